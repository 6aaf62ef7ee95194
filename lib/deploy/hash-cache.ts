import { mkdirSync, readFileSync, renameSync, Stats, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { portsideHome } from '../ssh/paths';

/** What a file's cached hash is valid for: the same inode, size, modification and change times. */
interface Entry {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly h: string;
  /** When it was last used (ms since the epoch), to forget files that are gone. */
  u: number;
}

/**
 * A file's content time may be as coarse as its file system's (1 s on some, 2 s on FAT): a hash taken
 * less than this long after the file's last change could miss a second write of the same size in the
 * same tick, so such a hash is used once and never remembered.
 */
export const SETTLE_MS = 2000;
/** Entries unused this long are dropped when the cache is written. */
const FORGET_MS = 30 * 24 * 3600 * 1000;
const MAX_ENTRIES = 200_000;

/** The cache in Portside's local state folder: `<PORTSIDE_HOME or ~/.portside>/file-hashes.json`. */
export function hashCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(portsideHome(env), 'file-hashes.json');
}

/**
 * SHA-256 hashes of local files, remembered across deploys in Portside's state folder so that a file
 * that has not changed is not read again. An entry is trusted only when the file's device, inode,
 * size, mtime and ctime are all what they were (ctime cannot be set back by `touch -d` or a restore
 * that keeps mtimes), and only when it was taken at least SETTLE_MS after the file last changed.
 * A missing, unreadable or corrupt cache file is an empty cache: the cost is hashing, never a wrong hash.
 */
export class HashCache {
  private readonly entries: Map<string, Entry>;
  private dirty = false;

  /** @param file where the cache lives (see hashCacheFile); @param now the clock (tests move it) */
  constructor(public readonly file: string, private readonly now: () => number = Date.now) {
    this.entries = new Map();
    try {
      const data = JSON.parse(readFileSync(file, 'utf8'));
      if (data?.version === 1 && data.entries && typeof data.entries === 'object') {
        for (const [path, e] of Object.entries(data.entries as Record<string, Entry>)) {
          if (e && typeof e.h === 'string' && typeof e.ino === 'number') this.entries.set(path, e);
        }
      }
    } catch {
      /* no cache yet, or a broken one: start empty */
    }
  }

  /** The remembered hash of `path` if the file, as `st` shows it, is unchanged since it was taken. */
  lookup(path: string, st: Stats): string | undefined {
    const e = this.entries.get(path);
    if (!e || e.dev !== st.dev || e.ino !== st.ino || e.size !== st.size || e.mtimeMs !== st.mtimeMs || e.ctimeMs !== st.ctimeMs) return undefined;
    const now = this.now();
    // Touch the use time at most once an hour: a deploy where nothing changed then writes nothing.
    if (now - e.u > 3600_000) {
      e.u = now;
      this.dirty = true;
    }
    return e.h;
  }

  /**
   * Remember `hash`, read from `path` at or after `hashedAt`, for the file as `st` (taken before the
   * read) shows it; a file changed within SETTLE_MS before the read is not remembered (see SETTLE_MS).
   */
  remember(path: string, st: Stats, hash: string, hashedAt: number): void {
    if (hashedAt - Math.max(st.mtimeMs, st.ctimeMs) <= SETTLE_MS) {
      if (this.entries.delete(path)) this.dirty = true;
      return;
    }
    this.entries.set(path, { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, h: hash, u: this.now() });
    this.dirty = true;
  }

  /** How many hashes are remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** The time used for `hashedAt` (injectable for tests). */
  clock(): number {
    return this.now();
  }

  /** Write the cache (atomically, mode 0600) if anything changed; a failure to write costs only speed. */
  save(): void {
    if (!this.dirty) return;
    const now = this.now();
    const kept = [...this.entries].filter(([, e]) => now - e.u < FORGET_MS).sort((a, b) => b[1].u - a[1].u).slice(0, MAX_ENTRIES);
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, JSON.stringify({ version: 1, entries: Object.fromEntries(kept) }), { mode: 0o600 });
      renameSync(tmp, this.file);
      this.dirty = false;
    } catch {
      /* read-only home, full disk: the next deploy hashes again */
    }
  }
}
