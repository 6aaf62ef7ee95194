import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, Stats, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { portsideHome } from '../ssh/paths';

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
  return join(portsideHome(env), 'file-hashes', `${createHash('sha256').update(folder).digest('hex').slice(0, 24)}.tsv`);
}

/**
 * SHA-256 hashes of local files, remembered across deploys in Portside's state folder so that a file
 * that has not changed is not read again. An entry is trusted only when the file's device, inode,
 * size, mtime and ctime are all what they were (ctime cannot be set back by `touch -d` or a restore
 * that keeps mtimes), and only when it was taken at least SETTLE_MS after the file last changed.
 * A missing, unreadable or corrupt cache file is an empty cache: the cost is hashing, never a wrong hash.
 *
 * The file holds one line per path, tab-separated: the path, what the hash is valid for (device,
 * inode, size, mtimeMs, ctimeMs), the hash, and when it was last used (ms since the epoch, to forget
 * files that are gone). A lookup compares the file's stat, written the same way, with the line's text:
 * loading costs a split, not a parse of every entry (20,000 files: ~10 ms, against ~140 ms for the
 * same entries as one JSON document of objects).
 *
 * It also holds what this run has already listed and hashed, per folder (see `folder`), so that one
 * deploy lists and hashes each folder once although the build-skip check and the manifest both need it.
 */
export class HashCache {
  /** Path → its line (see above); read from the file at the first use. */
  private linesRead: Map<string, string> | undefined;
  private readonly runResults = new Map<string, Promise<unknown>>();
  private dirty = false;
  /** The paths this run looked up or remembered; with `complete`, the others are dropped when saving. */
  private readonly used = new Set<string>();
  private complete = false;

  /**
   * @param file where the cache lives (see hashCacheFile); read at the first lookup, not here: the
   *   deploy builds its cache just before it starts connecting, and 10,000 lines take ~10 ms to read.
   * @param now the clock (tests move it)
   */
  constructor(public readonly file: string, private readonly now: () => number = Date.now) {}

  private get lines(): Map<string, string> {
    this.linesRead ??= readLines(this.file);
    return this.linesRead;
  }

  /** The remembered hash of `path` if the file, as `st` shows it, is unchanged since it was taken. */
  lookup(path: string, st: FileStamp): string | undefined {
    this.used.add(path);
    const line = this.lines.get(path);
    if (line === undefined) return undefined;
    const head = `${path}\t${validFor(st)}\t`;
    if (!line.startsWith(head) || line.length < head.length + 66) return undefined;
    const h = line.slice(head.length, head.length + 64);
    if (!/^[0-9a-f]{64}$/.test(h)) return undefined;
    const now = this.now();
    // Touch the use time at most once an hour: a deploy where nothing changed then writes nothing.
    if (!(now - Number(line.slice(head.length + 65)) <= 3600_000)) {
      this.lines.set(path, `${head}${h}\t${now}`);
      this.dirty = true;
    }
    return h;
  }

  /**
   * Remember `hash`, read from `path` at or after `hashedAt`, for the file as `st` (taken before the
   * read) shows it; a file changed within SETTLE_MS before the read is not remembered (see SETTLE_MS).
   */
  remember(path: string, st: FileStamp, hash: string, hashedAt: number): void {
    this.used.add(path);
    if (hashedAt - Math.max(st.mtimeMs, st.ctimeMs) <= SETTLE_MS || UNSTORABLE.test(path)) {
      if (this.lines.delete(path)) this.dirty = true;
      return;
    }
    this.lines.set(path, `${path}\t${validFor(st)}\t${hash}\t${this.now()}`);
    this.dirty = true;
  }

  /** How many hashes are remembered. */
  get size(): number {
    return this.lines.size;
  }

  /** The time used for `hashedAt` (injectable for tests). */
  clock(): number {
    return this.now();
  }

  /**
   * What this run computed for `key` (a folder), computed by `compute` the first time it is asked for.
   * Not saved: a later deploy lists the folder again (it may have changed); call `forget` when this run
   * changes the folder (a build rewrites its output).
   */
  folder<T>(key: string, compute: () => Promise<T>): Promise<T> {
    let p = this.runResults.get(key) as Promise<T> | undefined;
    if (!p) {
      p = compute();
      this.runResults.set(key, p);
      p.catch(() => this.runResults.delete(key));
    }
    return p;
  }

  /** Drop what this run computed for `key`: the folder has changed since. */
  forget(key: string): void {
    this.runResults.delete(key);
  }

  /**
   * Say that this run listed every file of the folder a deploy reads (the build's inputs and the whole
   * release): a remembered path it did not look up is no longer in the app (a file deleted, renamed, or a
   * build output with a new hashed name) and is dropped at `save`. Without this, such entries stayed for
   * FORGET_MS and every deploy read them: an app that once had 20,000 files kept a 40,000-line, 8 MB cache,
   * ~35 ms of each later deploy of the same app with 40 files. Not called after a dry run or a failed listing.
   */
  listedEverything(): void {
    this.complete = true;
    if (this.linesRead && [...this.linesRead.keys()].some((path) => !this.used.has(path))) this.dirty = true;
  }

  /** Write the cache (atomically, mode 0600) if anything changed; a failure to write costs only speed. */
  save(): void {
    if (!this.dirty) return;
    const now = this.now();
    const used = (line: string): number => Number(line.slice(line.lastIndexOf('\t') + 1));
    const listed = (line: string): boolean => !this.complete || this.used.has(line.slice(0, line.indexOf('\t')));
    const kept = [...this.lines.values()].filter((line) => now - used(line) < FORGET_MS && listed(line));
    if (kept.length > MAX_ENTRIES) kept.sort((a, b) => used(b) - used(a)).length = MAX_ENTRIES;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, `${HEADER}\n${kept.join('\n')}\n`, { mode: 0o600 });
      renameSync(tmp, this.file);
      this.dirty = false;
      removeStale(dirname(this.file), now);
    } catch {
      /* read-only home, full disk: the next deploy hashes again */
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
 * Remove other folders' cache files unused for FORGET_MS (a folder deleted or never deployed again),
 * and the single cache file of earlier versions (`file-hashes.json`, superseded by one file per folder).
 */
function removeStale(dir: string, now: number): void {
  rmSync(join(dir, '..', 'file-hashes.json'), { force: true });
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (now - statSync(file).mtimeMs > FORGET_MS) rmSync(file, { force: true });
  }
}
