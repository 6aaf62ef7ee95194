import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, Stats, statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { UserError } from '../errors';
import type { FileStamp, HashCache } from './hash-cache';

/** One file of a release: path inside the release, content hash, size, mode. */
export interface ManifestEntry {
  readonly p: string;
  readonly h: string;
  readonly s: number;
  readonly m: number;
}

/** A release file and where it comes from on this machine. */
export interface ReleaseFile extends ManifestEntry {
  readonly source: string;
}

/** Never uploaded, at any depth: dependencies are installed on the server; secrets stay home. */
export function isExcluded(name: string): boolean {
  return name === 'node_modules' || name === '.git' || name === '.env' || name.startsWith('.env.')
    || name === '.DS_Store' || name.startsWith('.portside');
}

/**
 * Per-file and per-release limits: a t3.micro has 1 GiB of memory and an 8 GB disk that keeps five
 * releases. One limit for both (100 MiB): three 90 MB files are as much of a mistake as one 270 MB file.
 */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;
export const MAX_RELEASE_BYTES = 100 * 1024 * 1024;

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0)} MiB`;

/** The problem with a release's total size, naming its largest files; null when it is within the limit. */
export function releaseSizeProblem(files: ReadonlyArray<{ path: string; size: number }>, limit = MAX_RELEASE_BYTES): { message: string; detail: string } | null {
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total <= limit) return null;
  const largest = [...files].sort((a, b) => b.size - a.size).slice(0, 5);
  return {
    message: `the release is ${mib(total)} in ${files.length} files; a release may be at most ${mib(limit)} in all`,
    detail: `Largest: ${largest.map((f) => `${f.path} (${mib(f.size)})`).join(', ')}.\n`
      + 'Portside uploads everything in the folder except node_modules, .git, .env* and .DS_Store: move data, logs and '
      + 'build leftovers out of the folder (or store them elsewhere, e.g. S3), then deploy again.',
  };
}

/** A file found by listFiles; `stat` (what the listing saw) lets a HashCache skip reading it. */
export interface ListedFile {
  readonly path: string;
  readonly source: string;
  readonly size: number;
  readonly mode: number;
  readonly stat?: FileStamp;
}

/** One listing in progress: the root's real path, where files go in the release, what to skip, what was found. */
interface Walk {
  readonly root: string;
  readonly prefix: string;
  readonly skip: (rel: string) => boolean;
  /** The real paths of the folders being walked (this one and its ancestors): a link back to one is a loop. */
  readonly open: string[];
  readonly out: ListedFile[];
  /** The files' stamps, five numbers each (see WalkedFile). */
  readonly stamps: number[];
}

/**
 * A file of a walk. Its stamp is kept in the walk's array of numbers, which V8 stores unboxed, and made
 * into an object only when asked for: 10,000 stamp objects, with their times boxed, were most of a
 * 5,000-file deploy's garbage collection (~10 ms), and an unchanged listing never asks (HashCache.takeListing
 * reads each stamp once, for its digest).
 */
class WalkedFile implements ListedFile {
  constructor(readonly path: string, readonly source: string, readonly size: number, readonly mode: number,
    private readonly stamps: readonly number[], private readonly at: number) {}

  get stat(): FileStamp {
    const s = this.stamps;
    const i = this.at;
    return { dev: s[i], ino: s[i + 1], size: s[i + 2], mtimeMs: s[i + 3], ctimeMs: s[i + 4] };
  }
}

/**
 * Entries looked at between two pauses of an asynchronous listing (~0.3 ms of lstat calls): while the
 * listing runs, each message of the SSH handshake waits for the chunk under way (256 entries, ~3 ms a
 * chunk, made a 5,000-file app's handshake ~40 ms slower).
 */
const ENTRIES_PER_PAUSE = 64;

/**
 * List the files under `dir` (minus exclusions), mapped to `prefix` in the release. A symlink that
 * points outside `dir` is refused: it would upload files the user never meant to publish.
 */
export function listFiles(dir: string, prefix = '', skip: (rel: string) => boolean = () => false): ListedFile[] {
  const w = startWalk(dir, prefix, skip);
  const walking = walkFolder(w, w.root, '', { seen: 0 });
  while (!walking.next().done) { /* no pauses: the caller wants the list now */ }
  return w.out;
}

/**
 * listFiles, pausing (setImmediate) every few hundred entries: the build-skip check lists the app while
 * the CLI connects, and a 5,000-file walk done in one go held the SSH handshake up by ~0.2 s.
 */
export async function listFilesPausing(dir: string, prefix = '', skip: (rel: string) => boolean = () => false): Promise<ListedFile[]> {
  const w = startWalk(dir, prefix, skip);
  const walking = walkFolder(w, w.root, '', { seen: 0 });
  while (!walking.next().done) await new Promise((r) => setImmediate(r));
  return w.out;
}

function startWalk(dir: string, prefix: string, skip: (rel: string) => boolean): Walk {
  return { root: realpathSync(dir), prefix, skip, open: [], out: [], stamps: [] };
}

/** Walk one folder into `w.out`, depth first in name order; yields where a listing may pause. */
function* walkFolder(w: Walk, abs: string, rel: string, count: { seen: number }): Generator<void, void> {
  w.open.push(realpathSync(abs));
  // Names only (the lstat below says what each is): no Dirent objects. The default sort compares
  // code units, so the order does not depend on the machine's locale (localeCompare: ~1 µs a call).
  for (const name of readdirSync(abs).sort()) {
    if (++count.seen % ENTRIES_PER_PAUSE === 0) yield;
    if (isExcluded(name)) continue;
    const childRel = rel ? `${rel}/${name}` : name;
    if (w.skip(childRel)) continue;
    // `abs` is a real path and a name has no separator: joined without path.join's normalising (~1 µs a file).
    const childAbs = abs + sep + name;
    const st = statInside(w, childAbs, childRel);
    if (st.isDirectory()) yield* walkFolder(w, childAbs, childRel, count);
    else if (st.isFile()) w.out.push(listed(w, w.prefix + childRel, childAbs, childRel, st));
  }
  w.open.pop();
}

/** The entry's lstat; for a symbolic link, the stat of what it points to, refused unless that is inside the root and no loop. */
function statInside(w: Walk, childAbs: string, childRel: string): Stats {
  const st = lstatSync(childAbs);
  if (!st.isSymbolicLink()) return st;
  let target: string;
  try {
    target = realpathSync(childAbs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new UserError(`${childRel} is a symbolic link loop (it leads back to itself through ${readlinkSync(childAbs)})`,
        'A release can hold only files and folders: remove the link, or point it at a real file inside the folder.');
    }
    throw new UserError(`${childRel} is a broken symbolic link`, 'Remove it or point it at a file inside the folder.');
  }
  if (target !== w.root && !target.startsWith(w.root + sep)) {
    throw new UserError(`${childRel} is a symbolic link to ${target}, outside the service folder`, 'Portside uploads only what is inside the folder: copy the file in, or remove the link.');
  }
  const linked = statSync(childAbs);
  if (linked.isDirectory() && w.open.includes(target)) {
    throw new UserError(`${childRel} is a symbolic link to ${target}, a folder that contains it: a symbolic link loop`,
      'A release can hold only files and folders, and this link would hold the folder inside itself forever: remove the link.');
  }
  return linked;
}

/** A listed file, within the per-file size limit. */
function listed(w: Walk, path: string, source: string, rel: string, st: Stats): ListedFile {
  if (st.size > MAX_FILE_BYTES) {
    throw new UserError(`${rel} is ${mib(st.size)}; a release file may be at most ${mib(MAX_FILE_BYTES)}, and so may the whole release`,
      'Large data does not belong in a release (a t3.micro has 1 GiB of memory): store it elsewhere, or move it out of the folder.');
  }
  // Only the stamp is kept, as numbers: 20,000 retained Stats objects cost more in garbage collection than the lstat calls.
  const at = w.stamps.length;
  w.stamps.push(st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs);
  return new WalkedFile(path, source, st.size, st.mode & 0o111 ? 0o755 : 0o644, w.stamps, at);
}

/**
 * Files up to this size are read whole and at once: a stream (or an asynchronous read) per small file
 * costs ~60 µs against ~8 µs for the read itself, which is most of a 5,000-file manifest; a 1 MiB
 * read blocks the event loop for about a millisecond.
 */
const READ_WHOLE_BYTES = 1024 * 1024;

/** The SHA-256 of a file's content, hex. */
export async function hashFile(file: string, size = Infinity): Promise<string> {
  if (size <= READ_WHOLE_BYTES) return createHash('sha256').update(readFileSync(file)).digest('hex');
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

/**
 * Hash every file (a few at a time) into the release manifest. With a `cache`, a file whose stat is
 * what it was when its hash was remembered is not read again (see HashCache for when that is trusted),
 * and a listing whose every file is so takes its hashes at once (HashCache.takeListing); the caller
 * saves the cache.
 */
export async function buildManifest(files: readonly ListedFile[], cache?: HashCache): Promise<ReleaseFile[]> {
  const tooBig = releaseSizeProblem(files);
  if (tooBig) throw new UserError(tooBig.message, tooBig.detail);
  const known = cache?.takeListing(files);
  if (known) return files.map((f, i) => ({ p: f.path, h: known[i], s: f.size, m: f.mode, source: f.source }));
  const out: ReleaseFile[] = new Array(files.length);
  let next = 0;
  // The listing is remembered whole only if every hash in it is one the per-file cache trusts.
  let trusted = true;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      // Cached and small files are hashed synchronously: let the SSH handshake and the agent's
      // messages through now and then (the build-skip check runs while the CLI connects).
      if (i % ENTRIES_PER_PAUSE === ENTRIES_PER_PAUSE - 1) await new Promise((r) => setImmediate(r));
      const f = files[i];
      let h = cache && f.stat ? cache.lookup(f.source, f.stat) : undefined;
      if (h === undefined) {
        const hashedAt = cache?.clock() ?? 0;
        h = await hashFile(f.source, f.size);
        if (!(cache && f.stat && cache.remember(f.source, f.stat, h, hashedAt))) trusted = false;
      }
      out[i] = { p: f.path, h, s: f.size, m: f.mode, source: f.source };
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  if (cache && trusted) cache.rememberListing(files, out.map((f) => f.h));
  return out;
}

/**
 * Every file under `dir` (paths relative to it), listed once per run with `hashes`: the build-skip
 * check, the release's digest and its manifest all need the build's output.
 */
export function folderListing(dir: string, hashes?: HashCache): Promise<ListedFile[]> {
  const abs = resolve(dir);
  return hashes ? hashes.listing(abs, () => listFilesPausing(abs)) : listFilesPausing(abs);
}

/**
 * The manifest of every file under `dir` (paths relative to it). With `hashes`, each folder is listed
 * and hashed once per run: the build-skip check and the release manifest both need the build's output,
 * and a deploy that rebuilt it hashes the new files once (they are too fresh to be remembered, see
 * SETTLE_MS). A build that rewrites the folder must `hashes.forget(dir)` first.
 */
export async function folderManifest(dir: string, hashes?: HashCache): Promise<ReleaseFile[]> {
  return manifestOfListing(await folderListing(dir, hashes), hashes);
}

/** The manifest of a listing, made once per run with `hashes` (see HashCache.manifestOf). */
function manifestOfListing(files: readonly ListedFile[], hashes?: HashCache): Promise<ReleaseFile[]> {
  return hashes ? hashes.manifestOf(files, () => buildManifest(files, hashes)) : buildManifest(files);
}

/** One folder of a release: its files go under `prefix`, minus those whose release path starts with `prefix + skipPrefix`. */
export interface ReleaseSource {
  readonly dir: string;
  readonly prefix: string;
  readonly skipPrefix?: string;
}

/** One source folder's files, listed: where they go in the release and what the walk found. */
export interface SourceListing {
  readonly source: ReleaseSource;
  readonly files: readonly ListedFile[];
}

/** List a release's source folders (see ReleaseSpec.sources); a folder taken whole reuses this run's listing of it (see folderListing). */
export function listSources(sources: readonly ReleaseSource[], hashes?: HashCache): Promise<SourceListing[]> {
  return Promise.all(sources.map(async (s) => ({
    source: s,
    files: s.skipPrefix ? await listFilesPausing(s.dir, s.prefix, (r) => `${s.prefix}${r}`.startsWith(s.prefix + s.skipPrefix)) : await folderListing(s.dir, hashes),
  })));
}

/**
 * The release's files from its source folders (see ReleaseSpec.sources). A folder taken whole reuses
 * this run's listing and manifest of it (see folderManifest); the size limits are checked on the whole release.
 */
export async function releaseFiles(sources: readonly ReleaseSource[], hashes?: HashCache): Promise<ReleaseFile[]> {
  return manifestOfSources(await listSources(sources, hashes), hashes);
}

/** The release's manifest from its listed source folders (see listSources), within the size limits. */
export async function manifestOfSources(listed: readonly SourceListing[], hashes?: HashCache): Promise<ReleaseFile[]> {
  const parts = await Promise.all(listed.map(async ({ source: s, files }) => {
    if (s.skipPrefix) return buildManifest(files, hashes);
    // This listing's manifest (the build-skip check may have made it), never a later listing's of the same folder.
    const manifest = await manifestOfListing(files, hashes);
    return s.prefix ? manifest.map((f) => ({ ...f, p: s.prefix + f.p })) : manifest;
  }));
  const files = parts.flat();
  const tooBig = releaseSizeProblem(files.map((f) => ({ path: f.p, size: f.s })));
  if (tooBig) throw new UserError(tooBig.message, tooBig.detail);
  return files;
}

/** Compare with the server's current release: which files can be hard-linked, which must be sent. */
export function diffManifest(next: readonly ReleaseFile[], current: readonly ManifestEntry[] | null): { keep: string[]; send: ReleaseFile[] } {
  const prev = new Map((current ?? []).map((e) => [e.p, e]));
  const keep: string[] = [];
  const send: ReleaseFile[] = [];
  for (const f of next) {
    const old = prev.get(f.p);
    if (old && old.h === f.h && old.m === f.m) keep.push(f.p);
    else send.push(f);
  }
  return { keep, send };
}

export function sameManifest(a: readonly ManifestEntry[], b: readonly ManifestEntry[] | null): boolean {
  if (!b || a.length !== b.length) return false;
  const m = new Map(b.map((e) => [e.p, e]));
  return a.every((e) => {
    const o = m.get(e.p);
    return !!o && o.h === e.h && o.m === e.m;
  });
}

export function relativeTo(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}
