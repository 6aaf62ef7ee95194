import { RemoteAbortError, RemoteTimeoutError } from './errors';
import type { ExecOptions, ExecResult } from './exec-channel';

/**
 * One remote command's lifetime, shared by an exec on its own SSH channel (exec-channel.ts) and one relayed
 * by a keeper (keeper/kept-session.ts): it settles once, on whichever comes first of its result, a failure,
 * `opts.signal`'s abort or `opts.timeoutMs`; an abort or a timeout also hangs the remote command up.
 */
export abstract class CallLifetime {
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.stop(new RemoteAbortError(this.command));

  constructor(
    protected readonly command: string,
    protected readonly opts: ExecOptions,
    private readonly resolve: (result: ExecResult) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  /** Listen for abort and start the timeout; false (and rejected) when the signal has already fired. */
  start(): boolean {
    const { signal, timeoutMs } = this.opts;
    if (signal?.aborted) {
      this.onAbort();
      return false;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (timeoutMs !== undefined) this.timer = setTimeout(() => this.stop(new RemoteTimeoutError(this.command, timeoutMs)), timeoutMs);
    return true;
  }

  /** Reject, unless already settled. */
  fail(error: Error): void {
    this.settle(() => this.reject(error));
  }

  /** True once the call has settled (a late channel or socket is then hung up at once). */
  protected get isSettled(): boolean {
    return this.settled;
  }

  /** Resolve with the command's result, unless already settled. */
  protected succeed(result: ExecResult): void {
    this.settle(() => this.resolve(result));
  }

  /** Reject and hang up the remote command. */
  protected stop(error: Error): void {
    this.fail(error);
    this.hangUp();
  }

  /** Ask the remote command to end (how depends on the transport); a no-op before it has started. */
  protected abstract hangUp(): void;

  private settle(fn: () => void): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    fn();
  }
}
