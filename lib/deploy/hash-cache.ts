import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, Stats, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { writeFileAtomic } from '../fs/write-atomic';
import { portsideHome } from '../ssh/paths';
import { ListingHashes, StampedFile, stampDigest } from './listing-hashes';

/** A listed file as the keys of what a listing makes see it: its stamp, and where it goes (see placedStampOf). */
export interface PlacedFile extends StampedFile {
  readonly path: string;
}

/** What the cache needs of a file's stat (a Stats object will do). */
export type FileStamp = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;

/**
 * A file's content time may be as coarse as its file system's (1 s on some, 2 s on FAT): a hash taken
 * less than this long after the file's last change could miss a second write of the same size in the
 * same tick, so such a hash is used once and never remembered.
 */
export const SETTLE_MS = 2000;
/** Entries unused this long are dropped when the cache is written; cache files unused this long are removed. */
const FORGET_MS = 30 * 24 * 3600 * 1000;
/** Hex characters of the folder's hash that name an app's cache files: its shards and listings folder start with them. */
const APP_NAME_CHARS = 24;
const MAX_ENTRIES = 200_000;
/** The first line of a cache file; a file that starts otherwise (an older format, a broken one) is an empty cache. */
const HEADER = 'portside file hashes v2';
/** A path with a tab or a line break cannot be a line of the file: such files are hashed every time. */
const UNSTORABLE = /[\t\n\r]/;

/**
 * The cache for one service folder: `<PORTSIDE_HOME or ~/.portside>/file-hashes/<sha256 of the folder>.tsv`.
 * One file per folder: a deploy reads the hashes of its own app, not those of every app this machine
 * ever deployed (one shared file had grown to 50,000 entries and 12 MB, ~0.2 s to parse on every deploy).
 * @param env where PORTSIDE_HOME is read
 * @param folder the service folder being deployed (absolute)
 */
export function hashCacheFile(env: NodeJS.ProcessEnv, folder: string): string {
  return join(portsideHome(env), 'file-hashes', `${createHash('sha256').update(folder).digest('hex').slice(0, APP_NAME_CHARS)}.tsv`);
}

/**
 * The cache a deploy of `folder` uses: its file (hashCacheFile), sharded by the folder's top-level
 * folders as the listings name them (real paths).
 */
export function hashCacheFor(env: NodeJS.ProcessEnv, folder: string): HashCache {
  let real = folder;
  try {
    real = realpathSync(folder);
  } catch {
    /* checked before: a folder gone since is the listing's error to report */
  }
  return new HashCache(hashCacheFile(env, folder), Date.now, real);
}

/**
 * SHA-256 hashes of local files, remembered across deploys in Portside's state folder so that a file
 * that has not changed is not read again. An entry is trusted only when the file's device, inode,
 * size, mtime and ctime are all what they were (ctime cannot be set back by `touch -d` or a restore
 * that keeps mtimes), and only when it was taken at least SETTLE_MS after the file last changed.
 * A missing, unreadable or corrupt cache file is an empty cache: the cost is hashing, never a wrong hash.
 *
 * A file holds one line per path, tab-separated: the path, what the hash is valid for (device,
 * inode, size, mtimeMs, ctimeMs), the hash, and when it was last used (ms since the epoch, to forget
 * files that are gone). A lookup compares the file's stat, written the same way, with the line's text:
 * loading costs a split, not a parse of every entry (20,000 files: ~10 ms, against ~140 ms for the
 * same entries as one JSON document of objects).
 *
 * One file per top-level folder of the app (a shard; the app's own files and anything outside it in
 * the first): a deploy that changed one back-end file reads and writes that folder's hashes, not
 * those of the 5,000 files of its front end (~10 ms each way). Whole listings are remembered too (see
 * `takeListing`, and ListingHashes for the folder beside these files): an unchanged folder takes all
 * its hashes at once and no per-file hash is read.
 *
 * It also holds what this run has already listed and hashed, per folder (see `folder`), so that one
 * deploy lists and hashes each folder once although the build-skip check and the manifest both need it.
 */
export class HashCache {
  /** Shard → (path → its line, see above); each read from its file at its first use. */
  private readonly shards = new Map<string, Map<string, string>>();
  private readonly dirtyShards = new Set<string>();
  /** This run's listings of whole folders (see `listing`). */
  private readonly runListings = new Map<string, Promise<unknown>>();
  /** This run's manifests, by the listing they are of (see `manifestOf`). */
  private readonly runManifests = new WeakMap<readonly StampedFile[], Promise<unknown>>();
  /** The paths this run looked up or remembered; with `complete`, the others are dropped when saving. */
  private readonly used = new Set<string>();
  private complete = false;
  private readonly listings: ListingHashes;
  /** The stamp digest of each listing asked for (see takeListing), for rememberListing. */
  private readonly digests = new WeakMap<readonly StampedFile[], string>();
  /** The placed stamp digest of each listing asked for (see placedStampOf). */
  private readonly placed = new WeakMap<readonly StampedFile[], string>();
  /** Listings whose every hash is trusted (taken whole, or remembered whole): see isTrusted. */
  private readonly trusted = new WeakSet<readonly StampedFile[]>();
  /** Listings taken whole from ListingHashes: their paths were used, though never looked up one by one. */
  private readonly taken: Array<readonly StampedFile[]> = [];

  /**
   * @param file where the cache lives (see hashCacheFile), the first shard; shards are read at their
   *   first lookup, not here: the deploy builds its cache just before it starts connecting.
   * @param now the clock (tests move it)
   * @param appFolder the app folder (absolute), whose top-level folders are the shards @default - one shard
   */
  constructor(public readonly file: string, private readonly now: () => number = Date.now, private readonly appFolder?: string) {
    this.listings = new ListingHashes(file.replace(/(\.tsv)?$/, '.listings'), now);
  }

  /** The shard `path` belongs to: its top-level folder in the app, or '' (the app's own files, or no app folder given). */
  private shardOf(path: string): string {
    const root = this.appFolder;
    if (!root || !path.startsWith(root + sep)) return '';
    const slash = path.indexOf(sep, root.length + 1);
    return slash < 0 ? '' : path.slice(root.length + 1, slash);
  }

  /** The file of a shard: `file` itself for '', else beside it with the shard name's hash. */
  private shardFile(shard: string): string {
    return shard === '' ? this.file : this.file.replace(/(\.tsv)?$/, `.${createHash('sha256').update(shard).digest('hex').slice(0, 12)}.tsv`);
  }

  private linesOf(shard: string): Map<string, string> {
    let lines = this.shards.get(shard);
    if (!lines) {
      lines = readLines(this.shardFile(shard));
      this.shards.set(shard, lines);
    }
    return lines;
  }

  /**
   * The hashes of `files` (a whole listing, in its order) if the same files with the same stamps were
   * remembered together (see ListingHashes); undefined, and each file is looked up, otherwise.
   */
  takeListing(files: readonly StampedFile[]): string[] | undefined {
    const digest = this.stampOf(files);
    if (digest === undefined) return undefined;
    const hashes = this.listings.get(digest, files.length);
    if (hashes) {
      this.taken.push(files);
      this.trusted.add(files);
    }
    return hashes;
  }

  /**
   * The stamp digest of a listing together with where its files go (their release paths): the same
   * result means the same files, unchanged, at the same paths. A listing's stamps name its files' real
   * paths, not the paths they take from the folder they were listed from (a folder that is a symbolic
   * link moved to another level of the same files gives them other paths): keys of what a listing makes
   * (a release's digest, a build's inputs and output digests) use this. Computed once per listing.
   */
  placedStampOf(files: readonly PlacedFile[]): string | undefined {
    let digest = this.placed.get(files);
    if (digest === undefined) {
      const stamp = this.stampOf(files);
      if (stamp === undefined) return undefined;
      // A path holds no NUL: joined with it, two different lists of paths never give the same text.
      digest = createHash('sha256').update(`${stamp}\n`).update(files.map((f) => f.path).join('\0')).digest('hex');
      this.placed.set(files, digest);
    }
    return digest;
  }

  /** The stamp digest of a listing (see stampDigest), computed once per listing. */
  stampOf(files: readonly StampedFile[]): string | undefined {
    let digest = this.digests.get(files);
    if (digest === undefined) {
      digest = stampDigest(files);
      if (digest !== undefined) this.digests.set(files, digest);
    }
    return digest;
  }

  /** Whether every hash of this listing, as this run has it, is trusted: taken whole, or remembered whole. */
  isTrusted(files: readonly StampedFile[]): boolean {
    return this.trusted.has(files);
  }

  /**
   * Remember the hashes of a listing that takeListing was asked for, in its order. Only when every one
   * of them is trusted: each was looked up, or remembered by `remember` (the caller knows).
   */
  rememberListing(files: readonly StampedFile[], hashes: readonly string[]): void {
    const digest = this.digests.get(files);
    if (digest !== undefined && hashes.length === files.length) {
      this.listings.set(digest, hashes);
      this.trusted.add(files);
    }
  }

  /**
   * One key for a release made of these listings (each with its place in the release: its folder, whose
   * paths become release paths, its prefix and skipped prefix): the same key means the same files in the
   * same places, each unchanged by the rule the per-file cache trusts. Undefined when a listing has no
   * stamp digest.
   */
  releaseKey(parts: ReadonlyArray<{ readonly dir: string; readonly prefix: string; readonly skipPrefix?: string; readonly files: readonly PlacedFile[] }>): string | undefined {
    // The key's own version: a record's digest is a manifest's, made by this version's rules (paths,
    // modes, exclusions); a change to those rules must change this line, or old records would be taken.
    const h = createHash('sha256').update('portside release key v2\n');
    for (const part of parts) {
      const stamp = this.placedStampOf(part.files);
      if (stamp === undefined) return undefined;
      // A prefix holds no NUL or newline (it is a release path): each part's text is unambiguous.
      h.update(`${part.dir}\0${part.prefix}\0${part.skipPrefix ?? ''}\0${stamp}\n`);
    }
    return h.digest('hex');
  }

  /**
   * The digest remembered for the release whose key is `key` (see releaseKey), made of `listings`:
   * the release is unchanged since it was remembered, and no hash of its files is needed. Their
   * listings' records and per-file hashes are kept as if taken (a later change to one file of the
   * release takes the others' hashes from them).
   */
  releaseDigest(key: string, listings: ReadonlyArray<readonly StampedFile[]>): string | undefined {
    const digest = this.listings.releaseDigest(key);
    if (digest !== undefined) for (const files of listings) this.keepListing(files);
    return digest;
  }

  /**
   * Say that this run found `files` unchanged by their stamp digest without taking their hashes (a
   * digest recorded with it was used instead: releaseDigest, or the build's record): their listing's
   * record and their per-file hashes are kept as if taken, and the listing counts as trusted.
   */
  keepListing(files: readonly StampedFile[]): void {
    const digest = this.stampOf(files);
    if (digest === undefined) return;
    this.listings.keep(digest);
    this.taken.push(files);
    this.trusted.add(files);
  }

  /** Remember a release's digest by its key, when every hash of its listings is trusted (see isTrusted). */
  rememberRelease(key: string, listings: ReadonlyArray<readonly StampedFile[]>, digest: string): void {
    if (listings.every((files) => this.trusted.has(files))) this.listings.setReleaseDigest(key, digest);
  }

  /** The remembered hash of `path` if the file, as `st` shows it, is unchanged since it was taken. */
  lookup(path: string, st: FileStamp): string | undefined {
    this.used.add(path);
    const shard = this.shardOf(path);
    const lines = this.linesOf(shard);
    const line = lines.get(path);
    if (line === undefined) return undefined;
    const head = `${path}\t${validFor(st)}\t`;
    if (!line.startsWith(head) || line.length < head.length + 66) return undefined;
    const h = line.slice(head.length, head.length + 64);
    if (!/^[0-9a-f]{64}$/.test(h)) return undefined;
    const now = this.now();
    // Touch the use time at most once an hour: a deploy where nothing changed then writes nothing.
    if (!(now - Number(line.slice(head.length + 65)) <= 3600_000)) {
      lines.set(path, `${head}${h}\t${now}`);
      this.dirtyShards.add(shard);
    }
    return h;
  }

  /**
   * Remember `hash`, read from `path` at or after `hashedAt`, for the file as `st` (taken before the
   * read) shows it; a file changed within SETTLE_MS before the read is not remembered (see SETTLE_MS).
   * @returns whether it was remembered
   */
  remember(path: string, st: FileStamp, hash: string, hashedAt: number): boolean {
    this.used.add(path);
    const shard = this.shardOf(path);
    const lines = this.linesOf(shard);
    if (hashedAt - Math.max(st.mtimeMs, st.ctimeMs) <= SETTLE_MS || UNSTORABLE.test(path)) {
      if (lines.delete(path)) this.dirtyShards.add(shard);
      return false;
    }
    lines.set(path, `${path}\t${validFor(st)}\t${hash}\t${this.now()}`);
    this.dirtyShards.add(shard);
    return true;
  }

  /** How many hashes are remembered, in the first shard and the shards read so far. */
  get size(): number {
    this.linesOf('');
    return [...this.shards.values()].reduce((n, lines) => n + lines.size, 0);
  }

  /** The time used for `hashedAt` (injectable for tests). */
  clock(): number {
    return this.now();
  }

  /**
   * This run's listing of a folder (`dir`, absolute), made by `compute` the first time it is asked for:
   * the build-skip check, the release's digest and its manifest share one walk of the build's output.
   * Not saved: a later deploy lists the folder again (it may have changed); call `forget` when this run
   * changes the folder (a build rewrites its output).
   */
  listing<T>(dir: string, compute: () => Promise<T>): Promise<T> {
    return this.memo(this.runListings, dir, compute);
  }

  /**
   * This run's manifest of a listing (see folderManifest), made by `compute` the first time it is asked
   * for: kept by the listing itself, not by its folder's path, so a listing made before a build rewrote
   * its folder keeps the manifest of what it listed, and the new listing gets its own.
   */
  manifestOf<T>(listing: readonly StampedFile[], compute: () => Promise<T>): Promise<T> {
    let p = this.runManifests.get(listing) as Promise<T> | undefined;
    if (!p) {
      p = compute();
      this.runManifests.set(listing, p);
      p.catch(() => this.runManifests.delete(listing));
    }
    return p;
  }

  private memo<T>(results: Map<string, Promise<unknown>>, key: string, compute: () => Promise<T>): Promise<T> {
    let p = results.get(key) as Promise<T> | undefined;
    if (!p) {
      p = compute();
      results.set(key, p);
      p.catch(() => results.delete(key));
    }
    return p;
  }

  /**
   * Drop this run's listings of `dir`, of the folders inside it and of those that contain it: the
   * folder has changed since (a build rewrote it, and a release folder that holds the build's output,
   * or sits inside it, changed with it).
   */
  forget(dir: string): void {
    for (const listed of [...this.runListings.keys()]) {
      if (listed === dir || listed.startsWith(dir + sep) || dir.startsWith(listed + sep)) this.runListings.delete(listed);
    }
  }

  /**
   * Say that this run listed every file of the folder a deploy reads (the build's inputs and the whole
   * release): a remembered path it did not use is no longer in the app (a file deleted, renamed, or a
   * build output with a new hashed name) and is dropped from the shards read at `save`, and so are the
   * listings it did not use. Without this, such entries stayed for FORGET_MS and every deploy read
   * them: an app that once had 20,000 files kept a 40,000-line, 8 MB cache, ~35 ms of each later
   * deploy of the same app with 40 files. Not called after a dry run or a failed listing.
   */
  listedEverything(): void {
    this.complete = true;
    for (const [shard, lines] of this.shards) {
      if ([...lines.keys()].some((path) => !this.belongs(path, shard))) this.dirtyShards.add(shard);
    }
  }

  /** Whether a complete run keeps `path`'s line in `shard`: used by this run, and in its own shard (a cache of one shard, as earlier versions wrote it, is split up). */
  private belongs(path: string, shard: string): boolean {
    return this.wasUsed(path) && this.shardOf(path) === shard;
  }

  /** Whether this run used the remembered hash of `path`: looked it up, remembered it, or took it with its listing. */
  private wasUsed(path: string): boolean {
    if (this.used.has(path)) return true;
    if (!this.taken.length) return false;
    for (const files of this.taken.splice(0)) for (const f of files) this.used.add(f.source);
    return this.used.has(path);
  }

  /** Write what changed (atomically, mode 0600); a failure to write costs only speed. */
  save(): void {
    const now = this.now();
    try {
      this.listings.save(this.complete);
    } catch {
      /* read-only home, full disk: the next deploy looks each file up */
    }
    let wrote = false;
    for (const shard of this.dirtyShards) {
      if (this.saveShard(shard, now)) {
        this.dirtyShards.delete(shard);
        wrote = true;
      }
    }
    if (!wrote) return;
    try {
      removeStale(dirname(this.file), now);
    } catch {
      /* another CLI removing or renaming files there at the same moment: the next save tries again */
    }
  }

  /** Write one shard; false when it could not be written (the next deploy hashes again). */
  private saveShard(shard: string, now: number): boolean {
    const used = (line: string): number => Number(line.slice(line.lastIndexOf('\t') + 1));
    const pathOf = (line: string): string => line.slice(0, line.indexOf('\t'));
    // A line used by this run stays, however old its time: one taken with its listing was not touched.
    const kept = [...this.linesOf(shard).values()].filter((line) => (this.complete ? this.belongs(pathOf(line), shard) : now - used(line) < FORGET_MS || this.wasUsed(pathOf(line))));
    if (kept.length > MAX_ENTRIES) kept.sort((a, b) => used(b) - used(a)).length = MAX_ENTRIES;
    const file = this.shardFile(shard);
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileAtomic(file, `${HEADER}\n${kept.join('\n')}\n`, 0o600);
      return true;
    } catch {
      return false; // read-only home, full disk
    }
  }
}

/** The cache file's lines by path; a missing, unreadable or foreign file is an empty cache. */
function readLines(file: string): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out; // no cache yet
  }
  const lines = text.split('\n');
  if (lines[0] !== HEADER) return out;
  for (let i = 1; i < lines.length; i++) {
    const tab = lines[i].indexOf('\t');
    if (tab > 0) out.set(lines[i].slice(0, tab), lines[i]);
  }
  return out;
}

/** What a remembered hash is valid for, as its line spells it: device, inode, size, mtime and ctime. */
function validFor(st: FileStamp): string {
  return `${st.dev}\t${st.ino}\t${st.size}\t${st.mtimeMs}\t${st.ctimeMs}`;
}

/**
 * Remove the cache files of apps unused for FORGET_MS (a folder deleted or never deployed again): an
 * app's files (its shards and its listings folder share the name's first APP_NAME_CHARS characters) go together,
 * when the newest of them is that old, as a deploy that reads only listings rewrites no shard (the
 * listings folder's time moves when a record is made or touched: ListingHashes.save). Also
 * the single cache file of earlier versions (`file-hashes.json`, superseded by one file per folder).
 */
function removeStale(dir: string, now: number): void {
  rmSync(join(dir, '..', 'file-hashes.json'), { force: true });
  const newest = new Map<string, number>();
  const names = readdirSync(dir);
  for (const name of names) {
    const app = name.slice(0, APP_NAME_CHARS);
    // An entry gone since the listing (another CLI's temporary file renamed) or a broken link counts as new: kept.
    const at = statSync(join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? now;
    newest.set(app, Math.max(newest.get(app) ?? 0, at));
  }
  for (const name of names) {
    if (now - newest.get(name.slice(0, APP_NAME_CHARS))! > FORGET_MS) rmSync(join(dir, name), { recursive: true, force: true });
  }
}
