/**
 * How the agent is launched on a server: one exec that runs it when the server has it. Shared by the
 * CLI (lib/deploy/agent-client.ts) and the kept connection's standby (lib/ssh/keeper), which starts the
 * same launch ahead of time.
 */
import { withServerNode } from './server-node';

/** The exit code and stderr line of an agent launch that found no agent at its path (nothing ran). */
export const AGENT_MISSING_CODE = 86;
export const AGENT_MISSING_LINE = 'portside: no agent at this path';

/**
 * argv that runs the agent at `agentPath` when the server has it, else exits AGENT_MISSING_CODE at once
 * (reading none of its input): the presence check and the launch are one exec, one round trip fewer
 * than checking first (~10 ms of every command). The path comes as a positional parameter.
 */
export function launchAgentArgv(agentPath: string, command: string): string[] {
  return ['sh', '-c', `test -f "$1" || { echo '${AGENT_MISSING_LINE}' >&2; exit ${AGENT_MISSING_CODE}; }; shift; exec "$@"`, 'sh', agentPath, ...withServerNode([agentPath, command])];
}
