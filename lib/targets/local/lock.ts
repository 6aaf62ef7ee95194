import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_DIR } from './constants';
import { isAlive, sleep } from './processes';

/**
 * Run `fn` while holding the stand-in's lock, so parallel `up`s (e.g. jest workers) and a `down` do
 * not interleave. mkdir is atomic; a lock whose owner died (Ctrl-C, kill -9) is taken over.
 */
export async function withLock<T>(fn: () => Promise<T>, waitMs = 300_000): Promise<T> {
  const owner = join(LOCK_DIR, 'pid');
  const started = Date.now();
  const deadline = started + waitMs;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(owner, `${process.pid}\n`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let pid = 0;
      try {
        pid = Number(readFileSync(owner, 'utf8').trim());
      } catch {
        // Being written right now, or left empty by a killed run: judged on the next pass.
      }
      if (pid && !isAlive(pid)) rmSync(LOCK_DIR, { recursive: true, force: true });
      else if (!pid && Date.now() > started + 2000) rmSync(LOCK_DIR, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`another \`portside local\` (pid ${pid}) has held ${LOCK_DIR} for ${waitMs / 1000} s`);
      else await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}
