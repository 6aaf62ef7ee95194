/**
 * The one local stand-in server every e2e suite shares. `ensureLocalServer()` brings it up when it is
 * not (cold: a few seconds, plus package installs on a fresh machine) and is fast when it is (~0.1 s).
 * Suites must not take it down: other suites may be using it in parallel.
 */
import { LocalServer, localStatus, localUp, readLocalServer } from '../../lib/targets/local';

export type { LocalServer } from '../../lib/targets/local';

export async function ensureLocalServer(): Promise<LocalServer> {
  try {
    const server = readLocalServer();
    if ((await localStatus()).up) return server;
  } catch {
    // Not up (or half up): localUp repairs it.
  }
  return localUp({ log: (line) => process.stderr.write(`[portside local up] ${line}\n`) });
}

/** Why e2e suites cannot run here, or '' when they can (Linux and root). */
export function localServerUnavailable(): string {
  if (process.platform !== 'linux') return `the local server needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'the local server needs root (network namespace, sshd, a user)';
  return '';
}
