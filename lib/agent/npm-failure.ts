// What to tell the user when npm fails on the server. npm's last lines are mostly about itself ("A
// complete log of this run can be found in …"); on a full disk they are all there is: npm could not
// write its cache, and its log file is cut short too, so the real cause is in neither. The disk's free
// space says it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Below this much free space, a failed install is put down to the full disk. */
export const LOW_DISK_BYTES = 16 * 1024 * 1024;
const NOISE = [/A complete log of this run can be found in/, /Log files were not written/, /You can rerun the command with/, /^npm (error|ERR!)\s*$/];
const TELLING_WARNING = /\b(ENOSPC|EDQUOT|EACCES|EPERM|ENOMEM|EROFS)\b/;

/** Free space on the filesystem of one folder. */
export interface DiskFree {
  readonly dir: string;
  readonly free: number;
}

/** What the user is shown for a failed npm command. */
export interface NpmFailure {
  readonly message: string;
  readonly detail: string;
}

/**
 * The lines of npm's output worth showing: its error lines minus the ones about its own log, and
 * warnings that name a system error (a full disk shows as `npm warn tar TAR_ENTRY_ERROR ENOSPC`).
 * Repeats are shown once with a count. At most `max` lines.
 */
export function pickNpmLines(output: unknown, max = 10): string[] {
  const counts = new Map<string, number>();
  for (const raw of String(output).split('\n')) {
    const line = raw.trim();
    const isError = /^npm (error|ERR!)/.test(line);
    const isTelling = /^npm warn/i.test(line) && TELLING_WARNING.test(line);
    if ((!isError && !isTelling) || NOISE.some((re) => re.test(line))) continue;
    counts.set(line, (counts.get(line) || 0) + 1);
  }
  return [...counts].slice(0, max).map(([line, n]) => (n > 1 ? `${line} (×${n})` : line));
}

/** Free bytes on the filesystem of each folder that exists. */
export function diskFree(dirs: readonly string[]): DiskFree[] {
  const out: DiskFree[] = [];
  for (const dir of dirs) {
    try {
      const s = fs.statfsSync(dir);
      out.push({ dir, free: s.bavail * s.bsize });
    } catch {
      /* not there (yet): nothing to say about it */
    }
  }
  return out;
}

const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;

/**
 * The message and detail for a failed npm command: the disk when it is (nearly) full, else npm's own
 * error lines, else the exit status alone. `disk` is diskFree()'s answer for the folders npm writes.
 */
export function describeNpmFailure(what: string, status: unknown, output: unknown, disk: readonly DiskFree[]): NpmFailure {
  const lines = pickNpmLines(output);
  const full = disk.filter((d) => d.free < LOW_DISK_BYTES);
  const logLine = String(output).split('\n').map((l) => l.trim()).find((l) => /A complete log of this run can be found in/.test(l));
  const shown = lines.length ? `npm said:\n${lines.map((l) => `  ${l}`).join('\n')}` : `npm said nothing more than: ${logLine || '(no output)'}`;
  if (full.length) {
    return {
      message: `${what} failed (${status}): the server's disk is full (${full.map((d) => `${mb(d.free)} free for ${d.dir}`).join('; ')})`,
      detail: `${shown}\nFree some space on the server, then deploy again: remove services you no longer need (portside remove-service <name> --purge), `
        + 'clear npm\'s cache (npm cache clean --force), and empty old logs (pm2 flush).',
    };
  }
  if (lines.length) return { message: `${what} failed (${status}): ${lines[0].replace(/^npm (error|ERR!)\s*/, '')}`, detail: shown };
  return { message: `${what} failed (${status})`, detail: shown };
}

/** The folders npm writes to for an install in `cwd`: the release, and npm's cache. */
export function npmDirs(cwd: string | undefined): string[] {
  return [cwd, process.env.npm_config_cache || path.join(os.homedir(), '.npm')].filter((d): d is string => Boolean(d));
}
