/**
 * Start each timed command on a quiet machine. A command's wall-clock ends when it exits, but the work
 * it set going may not have: the course's flow returns from `pm2 restart` while its service is still
 * booting (~0.15 s of CPU), and Portside's deploy leaves an old worker draining and a detached `rm`
 * of old releases. On 2 cores, whichever command is timed next pays for that, so one flow's leftovers
 * were billed to the other depending on the interleaving. This waits until the machine is idle, the
 * usual cool-down between benchmark runs (what hyperfine's `--prepare` is for), before every timed
 * command of either flow alike.
 */
import { readFileSync } from 'node:fs';

/** How idle counts as quiet, and how long to wait for it at most. */
export interface SettleOptions {
  /** The share of all cores' time that must be idle in one window. @default 0.9 */
  readonly idleShare?: number;
  /** The window's length, ms. @default 100 */
  readonly windowMs?: number;
  /** Give up and start anyway after this long, ms. @default 3000 */
  readonly maxMs?: number;
}

/** Idle and total jiffies of all cores together, from /proc/stat's first line (idle + iowait count as idle). */
export function cpuTimes(stat: string): { idle: number; total: number } {
  const fields = stat.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every wait so far (ms), for the report. */
export const settleWaits: number[] = [];

/**
 * Wait until one window of `windowMs` was at least `idleShare` idle; resolves with the time waited (ms).
 * Where /proc/stat cannot be read (not Linux), it does not wait.
 */
export async function settle(o: SettleOptions = {}): Promise<number> {
  const { idleShare = 0.9, windowMs = 100, maxMs = 3000 } = o;
  const t0 = performance.now();
  let before: { idle: number; total: number };
  try {
    before = cpuTimes(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return 0;
  }
  while (performance.now() - t0 < maxMs) {
    await sleep(windowMs);
    const after = cpuTimes(readFileSync('/proc/stat', 'utf8'));
    const total = after.total - before.total;
    if (total > 0 && (after.idle - before.idle) / total >= idleShare) break;
    before = after;
  }
  const waited = performance.now() - t0;
  settleWaits.push(waited);
  return waited;
}
