// Releases on disk: releases/<id>/ folders, a `current` link switched atomically, and a history file.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../fs/write-atomic';
import { manifestDigest, ReleaseManifest, ReleaseSummary } from '../protocol';
import { CURRENT_LINK, DEPLOY_HISTORY_KEEP, DEPLOYS_FILE, RELEASE_ENV_FILE, RELEASE_MANIFEST, RELEASE_SUMMARY, RELEASES_SUBDIR } from '../remote/layout';
import { run } from './run';

export const MANIFEST = RELEASE_MANIFEST;

/** Where one kind of release lives: a service's folder, or the static site's (registry paths.www). */
export interface ReleaseLayout {
  readonly base: string;
  readonly releases: string;
  readonly current: string;
  readonly history: string;
  dir(id: string): string;
}

/** One entry of deploys.json. */
export interface HistoryEntry {
  readonly id: string;
  readonly at: string;
  readonly by: string;
  readonly port?: number;
  /** Set when the entry is a rollback: the release it left. */
  readonly rollbackFrom?: string;
}

/** base: where a kind of release lives. Services: ~/services/<name>; the static site: registry paths.www. */
export function layout(base: string): ReleaseLayout {
  return {
    base,
    releases: join(base, RELEASES_SUBDIR),
    current: join(base, CURRENT_LINK),
    history: join(base, DEPLOYS_FILE),
    dir: (id) => join(base, RELEASES_SUBDIR, id),
  };
}

export function currentId(l: ReleaseLayout): string | null {
  try {
    return basename(readlinkSync(l.current));
  } catch {
    return null;
  }
}

/**
 * A release's manifest, or null when it is missing, unreadable, or names another release. The last
 * case is what servers deployed before manifests were written atomically hold: every release's
 * manifest was one hard-linked file that each deploy rewrote, so an older release could claim a newer
 * one's files. Trusting such a manifest made a redeploy "up to date" while the old code served.
 * `anyId` is for what such a manifest still tells right (how to start the release, its port), as a
 * rollback needs; never for its file list.
 */
export function readManifest(l: ReleaseLayout, id: string, { anyId = false } = {}): ReleaseManifest | null {
  try {
    const m = JSON.parse(readFileSync(join(l.dir(id), MANIFEST), 'utf8')) as ReleaseManifest | null;
    return m && (anyId || m.id === id) ? m : null;
  } catch {
    return null;
  }
}

/**
 * A release's summary (its manifest without the files, and their digest), or null when it is missing,
 * unreadable, names another release, or was written for other manifest bytes than the release holds
 * (a manifest lost or rewritten since: the release then has no trustworthy file list, and the caller
 * reads the manifest as before). Checking the bytes costs a read and a hash (~2 ms at 5,000 files),
 * not a parse.
 */
export function readSummary(l: ReleaseLayout, id: string): ReleaseSummary | null {
  try {
    const s = JSON.parse(readFileSync(join(l.dir(id), RELEASE_SUMMARY), 'utf8')) as ReleaseSummary | null;
    if (!s || s.id !== id || typeof s.digest !== 'string') return null;
    return s.manifestSha256 === sha256(readFileSync(join(l.dir(id), MANIFEST))) ? s : null;
  } catch {
    return null;
  }
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * Write a release's manifest, then its summary with the files' digest computed here (never taken from
 * the CLI), each as a new file (a new inode). A release is made from its base by hard links (`cp -al`),
 * so writing into a linked file in place would rewrite every older release's. A release whose summary
 * was never written (cut off in between) is read from its manifest.
 */
export function writeManifest(dir: string, manifest: ReleaseManifest): void {
  const text = JSON.stringify(manifest);
  writeFileAtomic(join(dir, MANIFEST), text);
  const { files, ...meta } = manifest;
  writeFileAtomic(join(dir, RELEASE_SUMMARY), JSON.stringify({ ...meta, digest: manifestDigest(files), manifestSha256: sha256(text) } satisfies ReleaseSummary));
}

export function readHistory(l: ReleaseLayout): HistoryEntry[] {
  try {
    return JSON.parse(readFileSync(l.history, 'utf8')) as HistoryEntry[];
  } catch {
    return [];
  }
}

/** Write a file by rename, so a reader sees the old text or the new, never half. */

export function appendHistory(l: ReleaseLayout, entry: HistoryEntry): void {
  const h = readHistory(l);
  h.push(entry);
  writeFileAtomic(l.history, JSON.stringify(h.slice(-DEPLOY_HISTORY_KEEP), null, 2) + '\n');
}

/** Point `current` at a release atomically (rename over the old link: never a moment without one). */
export function switchTo(l: ReleaseLayout, id: string): void {
  const tmp = `${l.current}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(join(RELEASES_SUBDIR, id), tmp);
  renameSync(tmp, l.current);
}

/**
 * Make a new release folder from the base release by hard links (unchanged files cost nothing), drop
 * what changed or went away, then unpack the uploaded files. Hard links are safe because an upload
 * never writes into a linked file: tar gets a fresh inode for every file it writes.
 */
export async function stage(l: ReleaseLayout, id: string, baseId: string | null, keep: readonly string[], upload: Readable | null, keepModules: boolean): Promise<string> {
  mkdirSync(l.releases, { recursive: true });
  const dir = l.dir(id);
  if (baseId && existsSync(l.dir(baseId))) {
    if (!takePrestaged(l, baseId, dir)) await run('cp', ['-al', l.dir(baseId), dir]);
    pruneTree(dir, '', new Set(keep), keepModules);
  } else {
    mkdirSync(dir);
  }
  if (upload) await run('tar', ['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-overwrite-dir'], { input: upload });
  return dir;
}

/** The prefix of folders whose contents are being deleted in the background; listReleases skips dot names. */
const TRASH = '.trash-';

/**
 * Move these entries of the releases folder into a new trash folder at once (a rename), for a detached
 * `rm` to delete; `tag` ends the folder's name (two callers in the same millisecond get two folders);
 * `failed` is called for an entry that could not be moved. Returns the trash folder's path.
 */
function moveToTrash(l: ReleaseLayout, names: readonly string[], tag: string, failed: (name: string) => void): string {
  const trash = join(l.releases, `${TRASH}${process.pid}-${Date.now()}${tag}`);
  for (const n of names) {
    try {
      mkdirSync(trash, { recursive: true });
      renameSync(join(l.releases, n), join(trash, n));
    } catch {
      failed(n);
    }
  }
  return trash;
}

/** The prefix of a release's copy made ahead of the next deploy (prestage); listReleases skips dot names. */
const PRESTAGED = '.next-';

/** Where the copy of release `baseId` made ahead of the next deploy is. */
export function prestagedDir(l: ReleaseLayout, baseId: string): string {
  return join(l.releases, `${PRESTAGED}${baseId}`);
}

/** Move the ready copy of the base release into place as the new release's folder; false when there is none. */
function takePrestaged(l: ReleaseLayout, baseId: string, dir: string): boolean {
  try {
    renameSync(prestagedDir(l, baseId), dir);
    return true;
  } catch {
    return false;
  }
}

/**
 * Copy release `id` (the new current one) by hard links for the next deploy, in the background, so that
 * deploy renames the copy into place instead of linking every entry while the user waits (a course-sized
 * service with its node_modules is ~1,400 entries: 30–50 ms of each one-line deploy). Detached and at the
 * lowest CPU priority, after the deploy has succeeded; copies of other releases are thrown away by the
 * same command. The copy is made as `<name>.tmp` and renamed when complete, so a half copy is never taken;
 * a deploy that finds none (not ready yet, or the base changed) links as before. Best effort: a copy
 * that fails costs nothing but the speed.
 */
export function prestage(l: ReleaseLayout, id: string): void {
  const target = prestagedDir(l, id);
  let others: string[];
  try {
    others = readdirSync(l.releases).filter((n) => n.startsWith(PRESTAGED) && n !== basename(target));
  } catch {
    return;
  }
  const trash = moveToTrash(l, others, '-next', () => { /* taken or removed meanwhile */ });
  const script = 'rm -rf -- "$3" "$2.tmp"; [ -e "$2" ] || { cp -al -- "$1" "$2.tmp" && mv -- "$2.tmp" "$2"; }';
  spawn('nice', ['-n', '19', 'sh', '-c', script, 'sh', l.dir(id), target, trash], { detached: true, stdio: 'ignore' }).on('error', () => {}).unref();
}

/** Remove every file of the copied release that is not kept as is (keeps node_modules when asked). */
function pruneTree(root: string, rel: string, keep: ReadonlySet<string>, keepModules: boolean): void {
  for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (!rel && entry.name === 'node_modules') {
      if (!keepModules) rmSync(join(root, p), { recursive: true, force: true });
      continue;
    }
    // The manifest, its summary and the env file belong to the release they were written for: never shared by link.
    if (!rel && (entry.name === MANIFEST || entry.name === RELEASE_SUMMARY || entry.name === RELEASE_ENV_FILE)) {
      rmSync(join(root, p), { force: true });
      continue;
    }
    if (entry.isDirectory()) {
      pruneTree(root, p, keep, keepModules);
      if (readdirSync(join(root, p)).length === 0) rmdirSync(join(root, p));
    } else if (!keep.has(p)) {
      rmSync(join(root, p), { force: true });
    }
  }
}

/** The releases beyond the newest `keep` (never the current one): pure, on a sorted id list. */
export function doomedReleases(ids: readonly string[], keep: number, current: string | null): string[] {
  return ids.slice(0, Math.max(0, ids.length - keep)).filter((id) => id !== current);
}

/** Keep the newest `keep` releases (and always the current one); remove the rest. */
export function prune(l: ReleaseLayout, keep: number): string[] {
  const doomed = doomedReleases(listReleases(l), keep, currentId(l));
  for (const id of doomed) rmSync(l.dir(id), { recursive: true, force: true });
  return doomed;
}

/**
 * Like `prune`, but the doomed releases are renamed into a hidden trash folder (instant) and deleted by
 * a detached `rm -rf` that outlives the agent. Trash left by a killed `rm` is swept on the next call.
 */
export function pruneAside(l: ReleaseLayout, keep: number): string[] {
  const doomed = doomedReleases(listReleases(l), keep, currentId(l));
  moveToTrash(l, doomed, '', (id) => rmSync(l.dir(id), { recursive: true, force: true }));
  let old: string[] = [];
  try {
    old = readdirSync(l.releases).filter((n) => n.startsWith(TRASH)).map((n) => join(l.releases, n));
  } catch {
    /* no releases folder */
  }
  // At the lowest CPU priority: a release of 5,000 files is ~0.1 s of unlinking, and a deploy started
  // right after this one (the next command, a fleet's next server) must not wait behind it.
  if (old.length) spawn('nice', ['-n', '19', 'rm', '-rf', '--', ...old], { detached: true, stdio: 'ignore' }).on('error', () => {}).unref();
  return doomed;
}

export function listReleases(l: ReleaseLayout): string[] {
  try {
    return readdirSync(l.releases).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

/** Releases that no history entry and no link knows: leftovers of a killed deploy. */
export function removeOrphans(l: ReleaseLayout): string[] {
  const known = new Set(readHistory(l).map((h) => h.id));
  const cur = currentId(l);
  const removed: string[] = [];
  for (const id of listReleases(l)) {
    if (id !== cur && !known.has(id)) {
      rmSync(l.dir(id), { recursive: true, force: true });
      removed.push(id);
    }
  }
  return removed;
}
