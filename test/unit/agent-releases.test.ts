/**
 * The agent's releases on disk (lib/agent/releases.ts) in a throwaway folder, with the real cp and tar
 * (no root): ids, staging by hard links, which releases pruning removes, orphans after a killed deploy.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { doomedReleases, layout, listReleases, prestage, prestagedDir, prune, pruneAside, readManifest, removeOrphans, stage, switchTo, currentId, appendHistory, writeManifest } from '../../lib/agent/releases';
import { newReleaseId } from '../../lib/protocol';
import { KEEP_RELEASES, RELEASE_ENV_FILE, RELEASE_MANIFEST } from '../../lib/remote/layout';

/** A tar stream of these files, made by the real tar (as the CLI's upload is unpacked by it). */
function tarOf(files: Record<string, string>): Readable {
  const src = mkdtempSync(join(tmpdir(), 'portside-tar-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(src, p, '..'), { recursive: true });
    writeFileSync(join(src, p), text);
  }
  const bytes = execFileSync('tar', ['-c', '-f', '-', '-C', src, ...Object.keys(files)]);
  rmSync(src, { recursive: true, force: true });
  return Readable.from([bytes]);
}

describe('release ids', () => {
  test('the UTC time to the second, then four hex digits', () => {
    expect(newReleaseId(new Date('2026-11-30T07:34:56.789Z'), () => 'ab12')).toBe('20261130T073456Z-ab12');
    expect(newReleaseId()).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
  });

  test('ids sort by time (pruning keeps the newest by sorting names)', () => {
    const ids = ['2026-11-30T10:00:00Z', '2026-01-02T00:00:00Z', '2025-12-31T23:59:59Z'].map((t) => newReleaseId(new Date(t)));
    expect([...ids].sort()).toEqual([ids[2], ids[1], ids[0]]);
  });

  test('two ids made in the same second differ (random suffix)', () => {
    const now = new Date();
    const ids = new Set(Array.from({ length: 50 }, () => newReleaseId(now)));
    expect(ids.size).toBeGreaterThan(40);
  });
});

describe('which releases a prune removes', () => {
  // Two more than are kept, oldest first (ids sort by time; zero-padded so they sort the same way here).
  const ids = Array.from({ length: KEEP_RELEASES + 2 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);
  const [oldest, second] = ids;
  test(`the newest ${KEEP_RELEASES} are kept`, () => {
    expect(doomedReleases(ids, KEEP_RELEASES, ids[ids.length - 1])).toEqual([oldest, second]);
  });
  test('the current release is never removed, even when old (after a rollback)', () => {
    expect(doomedReleases(ids, KEEP_RELEASES, oldest)).toEqual([second]);
  });
  test('fewer releases than kept: nothing goes', () => {
    expect(doomedReleases(ids.slice(0, KEEP_RELEASES - 1), KEEP_RELEASES, null)).toEqual([]);
  });
});

describe('releases on disk', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'portside-releases-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  /** A tar stream of `files` made by the real tar. */
  test('a new release links the kept files, drops the rest, keeps node_modules when asked, and unpacks the upload', async () => {
    const l = layout(base);
    const first = await stage(l, 'r1', null, [], tarOf({ 'index.js': 'v1', 'lib/a.js': 'a', 'lib/gone.js': 'x', 'node_modules/dep/i.js': 'd' }), true);
    writeManifest(first, { id: 'r1', files: [], by: 't', at: 'now' });
    writeFileSync(join(first, RELEASE_ENV_FILE), 'A=1\n');
    switchTo(l, 'r1');
    const dir = await stage(l, 'r2', 'r1', ['lib/a.js'], tarOf({ 'index.js': 'v2' }), true);
    expect(readFileSync(join(dir, 'index.js'), 'utf8')).toBe('v2');
    expect(statSync(join(dir, 'lib/a.js')).ino).toBe(statSync(join(first, 'lib/a.js')).ino);
    expect(existsSync(join(dir, 'lib/gone.js'))).toBe(false);
    expect(existsSync(join(dir, 'node_modules/dep/i.js'))).toBe(true);
    // The manifest and env file belong to the release they were written for: never shared by link.
    expect(existsSync(join(dir, RELEASE_MANIFEST))).toBe(false);
    expect(existsSync(join(dir, RELEASE_ENV_FILE))).toBe(false);
    // The old release is untouched (tar wrote a new inode for index.js).
    expect(readFileSync(join(first, 'index.js'), 'utf8')).toBe('v1');
    const noModules = await stage(l, 'r3', 'r1', ['index.js'], null, false);
    expect(existsSync(join(noModules, 'node_modules'))).toBe(false);
  });

  test('a manifest that names another release is not trusted (except for anyId reads)', () => {
    const l = layout(base);
    mkdirSync(l.dir('r1'), { recursive: true });
    writeManifest(l.dir('r1'), { id: 'r0', files: [], by: 't', at: 'now', port: 3000 });
    expect(readManifest(l, 'r1')).toBeNull();
    expect(readManifest(l, 'r1', { anyId: true })?.port).toBe(3000);
  });

  test('switching is a link swap; prune keeps the current release; orphans are the releases no history knows', () => {
    const l = layout(base);
    for (const id of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']) mkdirSync(l.dir(id), { recursive: true });
    for (const id of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']) appendHistory(l, { id, at: id, by: 't' });
    switchTo(l, 'r1');
    expect(currentId(l)).toBe('r1');
    expect(removeOrphans(l)).toEqual(['r7']);
    expect(prune(l, 2)).toEqual(['r2', 'r3', 'r4']);
    expect(existsSync(l.dir('r1'))).toBe(true);
  });
});

describe('pruneAside', () => {
  test('moves the releases beyond the newest ones aside at once, and a detached low-priority rm deletes them', async () => {
    const base = mkdtempSync(join(tmpdir(), 'portside-prune-aside-'));
    try {
      const l = layout(base);
      const ids = Array.from({ length: KEEP_RELEASES + 2 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);
      for (const id of ids) {
        mkdirSync(join(l.dir(id), 'public'), { recursive: true });
        writeFileSync(join(l.dir(id), 'public', 'f.txt'), id);
      }
      switchTo(l, ids[ids.length - 1]);
      expect(pruneAside(l, KEEP_RELEASES)).toEqual(ids.slice(0, 2));
      expect(existsSync(l.dir(ids[0]))).toBe(false);
      expect(existsSync(l.dir(ids[2]))).toBe(true);
      // The trash goes away by itself (bounded wait: the rm runs at the lowest priority).
      const trash = (): string[] => readdirSync(l.releases).filter((n) => n.startsWith('.trash-'));
      const until = Date.now() + 10_000;
      while (trash().length && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(trash()).toEqual([]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('prestage: the next deploy\'s copy of the current release, made in the background', () => {
  const waitFor = async (ok: () => boolean): Promise<void> => {
    const until = Date.now() + 10_000;
    while (!ok() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  };

  test('a deploy from that release takes the copy: the same folder as linking then, and stage links nothing itself', async () => {
    const base = mkdtempSync(join(tmpdir(), 'portside-prestage-'));
    try {
      const l = layout(base);
      const r1 = await stage(l, 'r1', null, [], tarOf({ 'index.js': 'v1', 'lib/a.js': 'a', 'node_modules/dep/i.js': 'd' }), true);
      writeManifest(r1, { id: 'r1', files: [], by: 't', at: 'now' });
      switchTo(l, 'r1');
      prestage(l, 'r1');
      await waitFor(() => existsSync(prestagedDir(l, 'r1')));
      expect(statSync(join(prestagedDir(l, 'r1'), 'lib/a.js')).ino).toBe(statSync(join(r1, 'lib/a.js')).ino);
      // A marker only in the copy shows stage took it rather than linking r1 again (pruneTree keeps node_modules).
      writeFileSync(join(prestagedDir(l, 'r1'), 'node_modules', 'from-the-copy'), '');
      const r2 = await stage(l, 'r2', 'r1', ['lib/a.js'], tarOf({ 'index.js': 'v2' }), true);
      expect(existsSync(prestagedDir(l, 'r1'))).toBe(false);
      expect(existsSync(join(r2, 'node_modules', 'from-the-copy'))).toBe(true);
      expect(readFileSync(join(r2, 'index.js'), 'utf8')).toBe('v2');
      expect(statSync(join(r2, 'lib/a.js')).ino).toBe(statSync(join(r1, 'lib/a.js')).ino);
      expect(existsSync(join(r2, RELEASE_MANIFEST))).toBe(false);
      expect(readFileSync(join(r1, 'index.js'), 'utf8')).toBe('v1');
      expect(listReleases(l)).toEqual(['r1', 'r2']);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test('a copy of another release is thrown away, a half copy is never taken, and without a copy stage links as before', async () => {
    const base = mkdtempSync(join(tmpdir(), 'portside-prestage-'));
    try {
      const l = layout(base);
      await stage(l, 'r1', null, [], tarOf({ 'index.js': 'v1' }), true);
      await stage(l, 'r2', 'r1', [], tarOf({ 'index.js': 'v2' }), true);
      prestage(l, 'r1');
      await waitFor(() => existsSync(prestagedDir(l, 'r1')));
      // A killed copy left its .tmp: not taken, and removed by the next prestage.
      mkdirSync(`${prestagedDir(l, 'r2')}.tmp`);
      prestage(l, 'r2');
      await waitFor(() => existsSync(prestagedDir(l, 'r2')) && !readdirSync(l.releases).some((n) => n.startsWith('.trash-') || n.endsWith('.tmp') || n === '.next-r1'));
      expect(readdirSync(l.releases).filter((n) => n.startsWith('.')).sort()).toEqual(['.next-r2']);
      expect(readFileSync(join(prestagedDir(l, 'r2'), 'index.js'), 'utf8')).toBe('v2');
      // No copy of r1 any more: staging from r1 links it.
      const r3 = await stage(l, 'r3', 'r1', ['index.js'], null, true);
      expect(readFileSync(join(r3, 'index.js'), 'utf8')).toBe('v1');
      expect(existsSync(prestagedDir(l, 'r2'))).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
