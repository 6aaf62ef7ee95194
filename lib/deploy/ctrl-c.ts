import { AgentMessage, COMMIT_STEPS } from '../protocol';
import type { SshSession } from '../ssh';

/** How long the first Ctrl-C waits for the agent's answer, then for its final result. */
export const ANSWER_WAIT_MS = 3000;
export const RESULT_WAIT_MS = 5000;

/** What the CLI knows of the agent's progress, fed from its messages. */
export interface AgentProgress {
  pid?: number;
  step?: string;
  committed: boolean;
}

const AFTER_SWITCH = (step: string | undefined): string => `interrupted after the switch${step ? ` (at ${step})` : ''}: the server finishes the change on its own, `
  + 'or puts the previous version back if its checks fail; check with portside services';

/**
 * Ctrl-C during an agent command. The agent ignores a cut connection and finishes on its own, so
 * leaving silently would hide whether the change goes live. The first Ctrl-C asks the agent to stop
 * when that is still safe (before its switch) and waits briefly for its answer; a second leaves at once.
 * Either way the last line says truthfully what happens on the server, and the exit code is 130.
 */
export class CtrlC {
  private presses = 0;
  /** The agent answered that it will stop before its switch. */
  private agreed = false;
  private answer?: (stopping: boolean | null) => void;
  private result?: (r: { ok: boolean; code?: string }) => void;
  /** askToStop was called (an outer command's Ctrl-C), and the agent was sent its stop. */
  private stopWanted = false;
  private stopSent = false;
  /** True once Ctrl-C was pressed: the command's own output stops, this class ends the process. */
  interrupted = false;
  readonly progress: AgentProgress = { committed: false };
  private readonly handler = (): void => void this.press();

  constructor(
    private readonly ssh: SshSession,
    private readonly log: (line: string) => void,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  /** Start listening for SIGINT; returns the function that stops listening. */
  listen(): () => void {
    process.on('SIGINT', this.handler);
    return () => process.removeListener('SIGINT', this.handler);
  }

  /** Feed every agent message here. */
  seen(m: AgentMessage): void {
    if (m.type === 'agent') {
      this.progress.pid = m.pid;
      if (this.stopWanted) void this.sendStop();
    }
    if (m.type === 'step' && m.status === 'start') {
      this.progress.step = m.name;
      // Steps that commit are marked in lib/protocol/steps.ts, the list the agent's interrupt.ts reads too.
      if (COMMIT_STEPS.has(m.name)) this.progress.committed = true;
    }
    if (m.type === 'interrupt') this.answer?.(m.stopping);
    if (m.type === 'result') this.result?.({ ok: m.ok, code: m.ok ? undefined : m.code });
  }

  /**
   * Asked by a command that owns Ctrl-C around this call (a fleet rollout, lib/deploy/interrupt-scope.ts):
   * ask the agent to stop before its switch, now or as soon as it says its pid. Never leaves and never
   * hides the result: the agent stops and undoes (the call fails) or, past its switch, finishes.
   */
  askToStop(): void {
    this.stopWanted = true;
    void this.sendStop();
  }

  private async sendStop(): Promise<void> {
    if (this.stopSent || this.progress.pid === undefined || this.progress.committed) return;
    this.stopSent = true;
    await this.ssh.exec(['kill', '-USR2', String(this.progress.pid)]).catch(() => undefined);
  }

  /** What one press does; exported behaviour for tests through a real SIGINT. */
  async press(): Promise<void> {
    this.presses++;
    this.interrupted = true;
    const p = this.progress;
    if (this.presses > 1) {
      return this.leave(p.committed ? AFTER_SWITCH(p.step) : this.agreed
        ? 'leaving now (second Ctrl-C): the server agreed to stop before its switch, so nothing will be switched; check with portside services'
        : 'leaving now (second Ctrl-C) before the server answered: it may still finish the change or roll it back; check with portside services');
    }
    if (p.pid === undefined) return this.leave('stopped: the server\'s agent had not started, so nothing was changed');
    if (p.committed) return this.leave(AFTER_SWITCH(p.step));
    this.log(`Ctrl-C: asking the server to stop${p.step ? ` (it is at ${p.step})` : ''} before it switches anything; Ctrl-C again to leave at once`);
    const answered = new Promise<boolean | null>((resolve) => {
      this.answer = resolve;
      setTimeout(() => resolve(null), ANSWER_WAIT_MS).unref();
    });
    const finished = new Promise<{ ok: boolean; code?: string } | null>((resolve) => {
      this.result = resolve;
    });
    // The agent runs as this SSH user: a plain kill reaches it. Its pid comes from the agent itself.
    await this.ssh.exec(['kill', '-USR2', String(p.pid)]).catch(() => undefined);
    const stopping = await answered;
    this.agreed = stopping === true;
    if (stopping === null) return this.leave('no answer from the server within 3 s: it may still finish the change or roll it back; check with portside services');
    if (!stopping) return this.leave(AFTER_SWITCH(this.progress.step));
    const r = await Promise.race([finished, new Promise<null>((resolve) => setTimeout(() => resolve(null), RESULT_WAIT_MS).unref())]);
    if (r && !r.ok) return this.leave('stopped: nothing was switched; the running version was not touched and the unfinished release was removed');
    if (r && r.ok) return this.leave('the change had already finished when the stop arrived: check with portside services');
    this.leave(`stopped: nothing will be switched; the server ends its current step (${this.progress.step ?? 'starting'}) first, then removes the unfinished release`);
  }

  private leave(line: string): void {
    this.log(line);
    this.exit(130);
  }
}
