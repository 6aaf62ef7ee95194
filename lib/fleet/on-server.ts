import { openSsh, SshSession } from '../ssh';
import type { Fleet, FleetServer } from './fleet-target';
import type { ConvergeRequest } from './converge-client';

/** One SSH session to a fleet server for `fn`, closed whatever happens. */
export async function onServer<T>(s: FleetServer, fn: (ssh: SshSession) => Promise<T>): Promise<T> {
  const ssh = await openSsh(s.target);
  try {
    return await fn(ssh);
  } finally {
    await ssh.close().catch(() => {});
  }
}

/** A fleet command's lines for one server, prefixed with its name. */
export const serverLog = (log: (line: string) => void, s: FleetServer) => (line: string): void => log(`[${s.label}] ${line}`);

/** What a server's `converge` needs from the CLI: the store, and where env files are (SSM on AWS). */
export function convergeRequest(fleet: Fleet, env?: Readonly<Record<string, string>>): ConvergeRequest {
  return { store: fleet.store, parameterPrefix: fleet.secrets ? `/portside/${fleet.secrets.stackName}` : undefined, env };
}
