import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/write-atomic';
import type { FileStamp } from './hash-cache';

/** A listed file as a listing record sees it: where it is, and its stat when the listing took it. */
export interface StampedFile {
  readonly source: string;
  readonly stat?: FileStamp;
}

/** The first line of a record; any other start (an older format, a broken file) is no record. */
const HEADER = 'portside listing hashes v1';
/** The first line of a release's digest record (see ListingHashes.releaseDigest). */
const RELEASE_HEADER = 'portside release digest v1';
/** Records kept when no run said which listings are the app's (see ListingHashes.save). */
const MAX_RECORDS = 16;
const HEX_HASH = 64;
/** A record's use time (its file's mtime) is touched at most this often: a deploy where nothing changed writes nothing. */
const TOUCH_MS = 3600_000;
const DIGEST = /^[0-9a-f]{64}$/;

/**
 * One digest for a whole listing's stamps: every file's path, in the listing's order, and its device,
 * inode, size, mtime and ctime. Two listings with the same stamp digest are the same files, each
 * unchanged by the rule HashCache trusts for one file. Undefined when a file has no stamp.
 * The numbers go in as one Float64Array: formatting 25,000 doubles as text cost ~10 ms a deploy.
 */
export function stampDigest(files: readonly StampedFile[]): string | undefined {
  const stamps = new Float64Array(files.length * 5);
  for (let i = 0; i < files.length; i++) {
    const st = files[i].stat;
    if (!st) return undefined;
    stamps[i * 5] = st.dev;
    stamps[i * 5 + 1] = st.ino;
    stamps[i * 5 + 2] = st.size;
    stamps[i * 5 + 3] = st.mtimeMs;
    stamps[i * 5 + 4] = st.ctimeMs;
  }
  // A path cannot hold a NUL: joined with it, two different lists of paths never give the same text.
  return createHash('sha256').update(files.map((f) => f.source).join('\0')).update(stamps).digest('hex');
}

/**
 * The hashes of whole listings, by their stamp digest: a deploy whose folder is unchanged takes all
 * of its hashes at once, instead of looking each file up (5,000 files: ~20 ms of lookups and a
 * ~2 MB per-file cache read, against ~1 ms). A record is made only when every hash in it was
 * trusted by the per-file rule (see HashCache.remember), so it is trusted exactly as far as they are.
 *
 * One file per record, named by its stamp digest, in a folder beside the per-file cache (mode 0700,
 * files 0600): a deploy reads the records of the listings it makes and writes only new ones. A record
 * holds a header line and its files' hashes, 64 hex digits each, in the listing's order; its mtime
 * is when it was last used.
 */
export class ListingHashes {
  /** Records made this run, to write at `save`. */
  private readonly made = new Map<string, string>();
  /** Records this run used (taken or made): with a complete run, the others are removed. */
  private readonly used = new Set<string>();
  /** Records used whose use time is older than TOUCH_MS. */
  private readonly stale = new Set<string>();

  /**
   * @param dir the folder of records; read record by record, as listings are asked for
   * @param now the clock (tests move it)
   */
  constructor(public readonly dir: string, private readonly now: () => number) {}

  /** The hashes of the listing whose stamp digest is `digest` and which has `count` files, if remembered. */
  get(digest: string, count: number): string[] | undefined {
    const text = this.read(digest, HEADER);
    if (text === undefined) return undefined;
    const hex = text.slice(HEADER.length + 1, -1);
    if (hex.length !== count * HEX_HASH || !/^[0-9a-f]*$/.test(hex)) return undefined;
    this.use(digest);
    const out = new Array<string>(count);
    for (let i = 0; i < count; i++) out[i] = hex.slice(i * HEX_HASH, (i + 1) * HEX_HASH);
    return out;
  }

  /**
   * The digest remembered for a release whose listings have the key `key` (see HashCache.releaseDigest),
   * if any. Kept in a record of its own, named by the key, beside the listings' records.
   */
  releaseDigest(key: string): string | undefined {
    const text = this.read(key, RELEASE_HEADER);
    const digest = text?.slice(RELEASE_HEADER.length + 1, -1);
    if (digest === undefined || !DIGEST.test(digest)) return undefined;
    this.use(key);
    return digest;
  }

  /** Remember the digest of the release whose listings have the key `key` (every hash in them trusted). */
  setReleaseDigest(key: string, digest: string): void {
    this.used.add(key);
    this.made.set(key, `${RELEASE_HEADER}\n${digest}\n`);
  }

  /**
   * Keep the record of `digest`, if there is one, as if this run had read it: a run that took its
   * release's digest whole (releaseDigest) used its listings' records without reading them.
   */
  keep(digest: string): void {
    this.use(digest);
  }

  /** A record's text, if it is there and starts with `header`, ending in a newline. */
  private read(name: string, header: string): string | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dir, name), 'latin1');
    } catch {
      return undefined; // none
    }
    return text.startsWith(`${header}\n`) && text.endsWith('\n') ? text : undefined;
  }

  /** Mark a record used by this run; one last used more than TOUCH_MS ago is touched at `save`. */
  private use(name: string): void {
    this.used.add(name);
    try {
      if (!(this.now() - statSync(join(this.dir, name)).mtimeMs <= TOUCH_MS)) this.stale.add(name);
    } catch {
      /* none, or removed meanwhile: nothing to touch */
    }
  }

  /** Remember a listing's hashes, in its order (each one trusted: see the class). */
  set(digest: string, hashes: readonly string[]): void {
    this.used.add(digest);
    this.made.set(digest, `${HEADER}\n${hashes.join('')}\n`);
  }

  /** Whether `save` has anything to write. */
  get changed(): boolean {
    return this.made.size > 0 || this.stale.size > 0;
  }

  /**
   * Write the records made, touch the old ones used. With `complete` (this run listed every folder of
   * the app: see HashCache.listedEverything) the records it did not use are removed, as they are no
   * listing of the app any more; otherwise the MAX_RECORDS last used are kept. Throws what the file system throws.
   */
  save(complete: boolean): void {
    const wrote = this.changed;
    if (wrote) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      for (const [digest, text] of this.made) {
        writeFileAtomic(join(this.dir, digest), text, 0o600);
      }
      const now = this.now() / 1000;
      for (const digest of this.stale) {
        try {
          utimesSync(join(this.dir, digest), now, now);
        } catch {
          /* removed since by another CLI's save: nothing to touch */
        }
      }
      // A folder's time moves with a new record, not with a touched one: its app's cache files are
      // removed when the newest of them is a month old (HashCache's removeStale), records in use included.
      utimesSync(this.dir, now, now);
      this.made.clear();
      this.stale.clear();
    }
    if (!wrote && !complete) return;
    let records: string[];
    try {
      records = readdirSync(this.dir).filter((name) => DIGEST.test(name));
    } catch {
      return; // no folder: no record was ever made
    }
    const drop = complete ? records.filter((d) => !this.used.has(d))
      : records.length <= MAX_RECORDS ? []
        : records.map((d) => ({ d, at: statSync(join(this.dir, d)).mtimeMs })).sort((a, b) => b.at - a.at).slice(MAX_RECORDS).map((r) => r.d);
    for (const digest of drop) rmSync(join(this.dir, digest), { force: true });
  }
}
