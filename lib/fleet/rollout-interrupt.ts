/**
 * Ctrl-C during a fleet rollout (deploy-service, rollback, remove-service, deploy-files with --fleet),
 * consistent with one server's (lib/deploy/ctrl-c.ts: the agent finishes or undoes its step on its own,
 * the CLI says what happens). The first Ctrl-C stops the rollout: no server is started on; each server in
 * progress is asked to stop before its switch (its agent then undoes) or, past it, finishes; then every
 * server that switched goes back to its previous release, newest first; the manifest is not written and
 * the command exits 130. Putting back is the point, so a second Ctrl-C only says where each server is; a
 * third leaves at once, saying exactly which servers are on which release (a fleet left mixed).
 */
import { interruptScope, InterruptScope, NEVER_STOP } from '../deploy/interrupt-scope';

export class RolloutInterrupt implements InterruptScope {
  /** Ctrl-C asked the rollout to stop. */
  stopping = false;
  /** Servers are being put back (after Ctrl-C or a failure): a press only warns, then leaves. */
  private restoring = false;
  private warned = false;
  private readonly asks = new Set<() => void>();
  private describe: () => string = () => 'no server changed yet';
  private readonly handler = (): void => this.press();

  constructor(
    private readonly log: (line: string) => void,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  /** Start listening for SIGINT; returns the function that stops listening. */
  listen(): () => void {
    process.on('SIGINT', this.handler);
    return () => process.removeListener('SIGINT', this.handler);
  }

  /** Where each server stands, for the lines a press prints. */
  track(describe: () => string): void {
    this.describe = describe;
  }

  onStop(ask: () => void): () => void {
    if (this.stopping) {
      ask();
      return () => undefined;
    }
    this.asks.add(ask);
    return () => this.asks.delete(ask);
  }

  /** Run a server's step: its agent calls are asked to stop before their switch once Ctrl-C is pressed. */
  guard<T>(fn: () => Promise<T>): Promise<T> {
    return interruptScope.run(this, fn);
  }

  /** Run a put-back: its agent calls finish whatever is pressed; from now on a press warns, then leaves. */
  shield<T>(fn: () => Promise<T>): Promise<T> {
    this.restoring = true;
    return interruptScope.run(NEVER_STOP, fn);
  }

  /** What one press does (a real SIGINT calls it; tests call it too). */
  press(): void {
    if (!this.stopping && !this.restoring) return this.stop();
    if (!this.warned) {
      this.warned = true;
      const doing = this.restoring ? 'putting servers back' : 'waiting for the servers in progress to stop or finish, then putting back';
      return this.log(`Ctrl-C again: still ${doing}. Now: ${this.describe()}. Ctrl-C once more to leave at once (a server not yet put back stays on the new release)`);
    }
    this.log(`leaving now (third Ctrl-C), the manifest unchanged. Now: ${this.describe()}. A server's agent finishes the step it is in on its own; check with portside services --fleet`);
    this.exit(130);
  }

  private stop(): void {
    this.stopping = true;
    this.log('Ctrl-C: stopping the rollout: no further server starts; a server in progress stops before its switch or finishes, '
      + 'then every server that switched goes back to its previous release, newest first, and the manifest stays as it was. Ctrl-C again to see where each server is');
    for (const ask of this.asks) ask();
  }
}
