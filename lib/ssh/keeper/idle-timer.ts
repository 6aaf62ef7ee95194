/**
 * Calls `onIdle` once nothing has been in use for `idleMs`: each user holds the timer off from
 * `begin()` to its `end()`. Timers injectable for tests.
 */
export class IdleTimer {
  private users = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly idleMs: number,
    private readonly onIdle: () => void,
    private readonly timers: { set: typeof setTimeout; clear: typeof clearTimeout } = { set: setTimeout, clear: clearTimeout },
  ) {
    this.arm();
  }

  /** Something is in use: the idle period stops counting. */
  begin(): void {
    this.users++;
    this.disarm();
  }

  /** One use ended: when it was the last, the idle period starts again from now. */
  end(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users === 0) this.arm();
  }

  /** Stop for good (the keeper is exiting for another reason). */
  stop(): void {
    this.disarm();
    this.users = Number.POSITIVE_INFINITY;
  }

  private arm(): void {
    this.disarm();
    this.timer = this.timers.set(() => this.onIdle(), this.idleMs);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }
}
