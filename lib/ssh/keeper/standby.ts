import { encodeLine, STANDBY_ARG, type StandbyRequest } from '../../protocol';
import { launchAgentArgv } from '../../remote/agent-launch';
import type { SshSession } from '../connection';
import { RemoteRun } from './remote-run';

/**
 * The one agent the keeper keeps started ahead (Node up, bundle loaded, waiting for its command): it
 * saves a command the agent's start-up (~40 ms on the stand-in). It is keyed by the agent's path, which
 * names its version, so a CLI with another version never gets it. It holds no lock and changes nothing
 * until its request arrives; when the keeper closes the connection its stdin ends and it exits.
 */
export class Standby {
  private waiting: { agentPath: string; run: RemoteRun } | undefined;

  constructor(private readonly session: SshSession, private readonly log: (line: string) => void) {}

  /** The standby for `agentPath`, told to run `command`; undefined when none is alive for that path. */
  take(agentPath: string, command: string): RemoteRun | undefined {
    const w = this.waiting;
    if (!w || w.agentPath !== agentPath || !w.run.alive) return undefined;
    this.waiting = undefined;
    w.run.stdin.write(encodeLine({ type: 'run', command } as StandbyRequest));
    return w.run;
  }

  /** Start a standby for `agentPath` (ending one for another version), unless one is already waiting. */
  prepare(agentPath: string): void {
    const w = this.waiting;
    if (w && w.agentPath === agentPath && w.run.alive) return;
    w?.run.stdin.end();
    const run = new RemoteRun(this.session, launchAgentArgv(agentPath, STANDBY_ARG));
    this.waiting = { agentPath, run };
    run.done.then((r) => {
      if (this.waiting?.run === run) {
        this.waiting = undefined;
        this.log(`standby for ${agentPath} ended unused (exit ${r.code})`);
      }
    }, () => {
      if (this.waiting?.run === run) this.waiting = undefined;
    });
    this.log(`standby started for ${agentPath}`);
  }

  /** End the waiting standby: its stdin closes, so it exits without doing anything. */
  stop(): void {
    this.waiting?.run.stdin.end();
    this.waiting = undefined;
  }
}
