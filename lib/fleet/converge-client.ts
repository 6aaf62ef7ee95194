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

/** A service on a server as its agent's `status` sees it: registered (routed, on a port), and its current release. */
export async function serviceState(ssh: SshSession, name: string): Promise<{ registered: boolean; release: string | null }> {
  const r = await callAgent(ssh, { command: 'status', header: { readOnly: true, who: who() } });
  const s = r.services.find((x) => x.name === name);
  return { registered: !!s?.registered, release: s?.registered ? s.release : null };
}

/** The release a server's service runs, or null when the server does not run it (never deployed, or removed). */
export async function serviceRelease(ssh: SshSession, name: string): Promise<string | null> {
  return (await serviceState(ssh, name)).release;
}
