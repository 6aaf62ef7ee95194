/** The CLI's side of a fleet server's `converge` and of reading which release it runs (over SSH). */
import { callAgent } from '../deploy/agent-client';
import { printer, who } from '../deploy/deploy-service';
import type { ConvergeHeader, ConvergeResult } from '../protocol';
import type { SshSession } from '../ssh';

/** What converge needs besides the server's own environment. */
export type ConvergeRequest = Pick<ConvergeHeader, 'store' | 'parameterPrefix' | 'env'>;

/** Run `converge` on a server: it installs what the manifest says and marks itself healthy, or fails. */
export async function convergeOverSsh(ssh: SshSession, request: ConvergeRequest, log: (line: string) => void): Promise<ConvergeResult> {
  return callAgent(ssh, {
    command: 'converge',
    header: { who: who(), what: 'converge', ...request },
    onMessage: printer(log, {}),
    onLog: (text) => text.split('\n').filter((l) => l.trim()).forEach((l) => log(`    ${l}`)),
  });
}

/** The release a server's service runs (its agent's `status`), or null when it has none. */
export async function serviceRelease(ssh: SshSession, name: string): Promise<string | null> {
  const r = await callAgent(ssh, { command: 'status', header: { readOnly: true, who: who() } });
  return r.services.find((s) => s.name === name)?.release ?? null;
}
