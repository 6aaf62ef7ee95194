/**
 * "Same files as the running release" as one digest (issue #12): the digest's definition, the summary
 * the agent writes beside each manifest, and the state that leaves the files out only when the CLI's
 * digest is the running release's. Real files in a throwaway folder, the real cp -al staging.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expectedDigest, stateOf } from '../../lib/agent/commands/shared';
import type { Input } from '../../lib/agent/protocol-io';
import { layout, readSummary, stage, switchTo, writeManifest } from '../../lib/agent/releases';
import { manifestDigest, ReleaseManifest, WireFile } from '../../lib/protocol';
import { RELEASE_MANIFEST, RELEASE_SUMMARY } from '../../lib/remote/layout';

const files: WireFile[] = [
  { p: 'index.js', h: 'a'.repeat(64), s: 10, m: 0o644 },
  { p: 'public/app.js', h: 'b'.repeat(64), s: 20, m: 0o644 },
  { p: 'public/many/f1.txt', h: 'c'.repeat(64), s: 30, m: 0o644 },
];

describe('manifestDigest', () => {
  test('the same files in any order have one digest', () => {
    expect(manifestDigest([...files].reverse())).toBe(manifestDigest(files));
    expect(manifestDigest(files)).toMatch(/^[0-9a-f]{64}$/);
  });

  test.each([
    ['a path', { p: 'index2.js' }], ['a content hash', { h: 'd'.repeat(64) }], ['a size', { s: 11 }], ['a mode', { m: 0o755 }],
  ])('with %s changed, the digest changes', (_what, change) => {
    expect(manifestDigest([{ ...files[0], ...change }, ...files.slice(1)])).not.toBe(manifestDigest(files));
  });

  test('a file more or less is another digest, as is a path split differently between name and folder', () => {
    expect(manifestDigest(files.slice(1))).not.toBe(manifestDigest(files));
    expect(manifestDigest([{ p: 'a/b', h: 'a'.repeat(64), s: 1, m: 0o644 }])).not.toBe(manifestDigest([{ p: 'a', h: 'a'.repeat(64), s: 1, m: 0o644 }]));
  });
});

describe('the release summary and the deploy state', () => {
  let base: string;
  const manifest = (id: string, fs: readonly WireFile[] = files): ReleaseManifest => ({ id, files: fs, start: { script: 'index.js' }, healthPath: '/', port: 3000, by: 'me@here', at: '2026-11-30T00:00:00Z' });
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'portside-summary-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  async function release(id: string, baseId: string | null, fs: readonly WireFile[] = files): Promise<void> {
    const l = layout(base);
    const dir = await stage(l, id, baseId, [], null, false);
    writeManifest(dir, manifest(id, fs));
    switchTo(l, id);
  }

  test('writeManifest records the digest computed from the files it writes', async () => {
    await release('r1', null);
    expect(readSummary(layout(base), 'r1')).toEqual({
      id: 'r1', start: { script: 'index.js' }, healthPath: '/', port: 3000, by: 'me@here', at: '2026-11-30T00:00:00Z', digest: manifestDigest(files),
      manifestSha256: createHash('sha256').update(readFileSync(join(layout(base).dir('r1'), RELEASE_MANIFEST))).digest('hex'),
    });
  });

  test('the CLI\'s digest is the running release\'s: the state has its settings and digest, not its files', async () => {
    await release('r1', null);
    const s = stateOf(layout(base), manifestDigest(files));
    expect(s).toEqual({ id: 'r1', files: null, meta: expect.objectContaining({ id: 'r1', port: 3000, start: { script: 'index.js' } }), digest: manifestDigest(files) });
  });

  test('another digest, or none, gets the whole manifest', async () => {
    await release('r1', null);
    expect(stateOf(layout(base), manifestDigest(files.slice(1)))).toEqual({ id: 'r1', files, meta: expect.objectContaining({ id: 'r1' }) });
    expect(stateOf(layout(base), null).files).toEqual(files);
    expect(stateOf(layout(base)).files).toEqual(files);
  });

  test('a release without a summary (made before them, or cut off before it was written) gets the whole manifest', async () => {
    await release('r1', null);
    rmSync(join(layout(base).dir('r1'), RELEASE_SUMMARY));
    expect(stateOf(layout(base), manifestDigest(files)).files).toEqual(files);
  });

  test('a lost or rewritten manifest: the summary is not trusted (the state has no files, so everything is sent)', async () => {
    await release('r1', null);
    const manifestFile = join(layout(base).dir('r1'), RELEASE_MANIFEST);
    writeFileSync(manifestFile, JSON.stringify(manifest('r1', files.slice(1))));
    expect(stateOf(layout(base), manifestDigest(files)).files).toEqual(files.slice(1));
    rmSync(manifestFile);
    expect(readSummary(layout(base), 'r1')).toBeNull();
    expect(stateOf(layout(base), manifestDigest(files))).toEqual({ id: 'r1', files: null, meta: null });
  });

  test('a summary that names another release is not trusted', async () => {
    await release('r1', null);
    const file = join(layout(base).dir('r1'), RELEASE_SUMMARY);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), id: 'r0' }));
    expect(stateOf(layout(base), manifestDigest(files)).files).toEqual(files);
  });

  test('a release staged from another by hard links gets its own summary, and the older one keeps its own', async () => {
    const changed = [{ ...files[0], h: 'e'.repeat(64) }, ...files.slice(1)];
    await release('r1', null);
    await release('r2', 'r1', changed);
    expect(readSummary(layout(base), 'r2')?.digest).toBe(manifestDigest(changed));
    expect(readSummary(layout(base), 'r1')?.digest).toBe(manifestDigest(files));
    expect(stateOf(layout(base), manifestDigest(files)).files).toEqual(changed);
  });
});

describe('the digest message after a deploy header', () => {
  const input = (...lines: Array<object | null>): Input => ({ next: async () => (lines.length ? lines.shift() as never : null), rest: () => new PassThrough() });
  const header = { service: 'simon', who: 'me@here', digestFollows: true };

  test('is read when the header says it follows, and not otherwise', async () => {
    const d = 'f'.repeat(64);
    await expect(expectedDigest(header, input({ type: 'digest', digest: d }))).resolves.toBe(d);
    await expect(expectedDigest(header, input({ type: 'digest', digest: null }))).resolves.toBeNull();
    await expect(expectedDigest({ ...header, digestFollows: false }, input({ type: 'plan' }))).resolves.toBeNull();
  });

  test('another message, or a digest that is not one, is refused with what came', async () => {
    await expect(expectedDigest(header, input({ type: 'plan', id: 'x' }))).rejects.toThrow(/expected the CLI's digest message after the header, got \{"type":"plan","id":"x"\}/);
    await expect(expectedDigest(header, input({ type: 'digest', digest: '../etc' }))).rejects.toThrow(/expected the CLI's digest message/);
    await expect(expectedDigest(header, input())).rejects.toThrow(/connection to the CLI ended before it sent its plan; nothing was changed/);
  });
});
