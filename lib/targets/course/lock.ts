import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAlive, sleep } from '../local/processes';

/** One course server per machine: a test run holds this while it uses it (two runs would rebuild it under each other). */
export const COURSE_LOCK_DIR = '/run/portside-course.lock';

/**
 * Take the course server for this process: an atomic mkdir holding our pid. A holder that died
 * (a killed test run) is recovered with a note; a live one is waited for, up to `waitMs`.
 * @throws Error naming the holder when it is still alive after `waitMs`
 */
export async function lockCourse(log: (line: string) => void = () => {}, waitMs = 600_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(COURSE_LOCK_DIR);
      writeFileSync(`${COURSE_LOCK_DIR}/pid`, `${process.pid}\n`);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = holderOf();
    if (holder === process.pid) return;
    if (holder !== undefined && !isAlive(holder)) {
      log(`the course server's lock was held by pid ${holder}, which is gone: taking it over`);
      rmSync(COURSE_LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the course server is in use by pid ${holder ?? '?'} (${COURSE_LOCK_DIR}); wait for it, or remove the folder if that process is not a test run`);
    await sleep(500);
  }
}

/** Give the course server back (only when this process holds it). */
export function unlockCourse(): void {
  if (holderOf() === process.pid) rmSync(COURSE_LOCK_DIR, { recursive: true, force: true });
}

function holderOf(): number | undefined {
  try {
    const pid = Number(readFileSync(`${COURSE_LOCK_DIR}/pid`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    // Made but not yet written (the holder is between mkdir and write): treat as alive.
    return undefined;
  }
}
