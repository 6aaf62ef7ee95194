// A held probe: the new release's Node process, started while its files are still being staged and held
// in the preload until they are in place. Node's own start-up (the binary, its bootstrap, the IPC
// channel, the preload: ~25 ms on a server, ~60 ms where NODE_EXTRA_CA_CERTS makes Node 20 read a CA
// bundle first) then overlaps the upload instead of coming after it; the release's
// code itself is not touched until the agent says go, and then starts exactly as in a cold process:
// Node's own loader runs the main script (process.argv[1], fixed at spawn), after the preload.
// This file runs inside the probe (bundled into the preload) and in the agent: Node's modules only.
import { closeSync, readSync } from 'node:fs';

/** The environment variable that holds a probe: its value is the folder to start in once released. */
export const HOLD_ENV = 'PORTSIDE_PROBE_HOLD';

/** The file descriptor of the pipe a held probe waits on (the spawn's stdio[4]). */
export const HOLD_FD = 4;

/** What the agent writes to release a held probe; closing the pipe without it ends the probe unstarted. */
export const GO = 'g';

/**
 * In a held probe (HOLD_ENV set), block until the agent writes GO on HOLD_FD, then close it and move into
 * the release's folder; the preload's own work and the app follow. Anything else (the pipe closed: the
 * deploy failed or the agent died) exits before any of the release's code has run. A no-op otherwise.
 */
export function holdUntilGo(env: NodeJS.ProcessEnv = process.env): void {
  const dir = env[HOLD_ENV];
  if (!dir) return;
  delete env[HOLD_ENV];
  const got = readOne(HOLD_FD);
  try {
    closeSync(HOLD_FD);
  } catch {
    /* already closed by the other end's error */
  }
  if (got !== GO) process.exit(0);
  process.chdir(dir);
}

/** One character from a blocking (or, should it be one, non-blocking) pipe; '' at its end or on an error. */
function readOne(fd: number): string {
  const buf = Buffer.alloc(1);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      return readSync(fd, buf, 0, 1, null) === 1 ? buf.toString('latin1') : '';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return '';
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}
