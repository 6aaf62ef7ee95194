/**
 * A rollout over a fleet: each server in turn (or `parallel` at a time) goes through today's
 * single-server deploy (probe → switch → verify, by its agent); the manifest moves only when every
 * server has switched; a failure puts the servers that switched back and leaves the manifest as it
 * was. The side effects (SSH, the store) are the caller's `RolloutSteps`, so this order is unit-tested.
 */
import { UserError } from '../errors';
import { batches, catchUpSet, rollbackSet } from './rollout-plan';
import type { RolloutInterrupt } from './rollout-interrupt';

/** What the rollout does to one server (`R`: what a deploy there did), and to the fleet. */
export interface RolloutSteps<S, R> {
  /** A server's name in messages (its address). */
  label(server: S): string;
  /**
   * Deploy the release to one server; resolves with what it did there (the release it replaced).
   * Rejects when it failed: the server's agent has then put that server back itself.
   */
  deploy(server: S): Promise<R>;
  /** Put a server that switched back as it was before `deployed`. */
  restore(server: S, deployed: R): Promise<void>;
  /** Bring a server found by the catch-up pass to the new release. @default - deploy */
  catchUp?(server: S): Promise<unknown>;
  /** Ctrl-C during the rollout: stop, put the switched servers back. @default - each agent call's own Ctrl-C */
  interrupt?: RolloutInterrupt;
  /** Write the manifest: called once, only after every server switched. */
  writeManifest(): Promise<void>;
  /**
   * The server's boot converge is still running (its booting marker): it is joining, not a target; its
   * converge ends on the manifest current when it finishes. @default - never booting
   */
  isBooting?(server: S): Promise<boolean>;
  /** The fleet as it is now (the catch-up pass), and whether a server runs the new release. */
  discover(): Promise<readonly S[]>;
  isOnRelease(server: S): Promise<boolean>;
  log(line: string): void;
}

export interface RolloutResult<S> {
  readonly switched: readonly S[];
  /** Servers the catch-up pass deployed to (found after the manifest moved, not on the new release). */
  readonly caughtUp: readonly S[];
}

/** A rollout that failed on a server: the servers that had switched are back on their previous release. */
export class RolloutFailed extends UserError {
  constructor(message: string, detail: string | undefined, public readonly failed: string, public readonly restored: readonly string[]) {
    super(message, detail);
    this.name = 'RolloutFailed';
  }
}

/** A rollout stopped by Ctrl-C: the switched servers were put back; exit status 130, as after SIGINT. */
export class RolloutInterrupted extends UserError {
  constructor(message: string, detail: string | undefined, public readonly restored: readonly string[]) {
    super(message, detail, 130);
    this.name = 'RolloutInterrupted';
  }
}

/** A server that switched, and what its step did there (what putting it back needs). */
interface Switched<S, R> {
  readonly server: S;
  readonly deployed: R;
}

/** Each server's state by label, in the fleet's order: what Ctrl-C's lines say. */
class Where {
  private readonly states = new Map<string, string>();
  constructor(labels: readonly string[]) {
    for (const l of labels) this.states.set(l, 'not started: as before');
  }
  set(label: string, state: string): void {
    this.states.set(label, state);
  }
  toString(): string {
    return [...this.states].map(([l, state]) => `${l} ${state}`).join('; ');
  }
}

/** Roll the release over `servers` in batches of `parallel`, then write the manifest, then catch up. */
export async function rollOut<S, R>(servers: readonly S[], parallel: number, steps: RolloutSteps<S, R>): Promise<RolloutResult<S>> {
  if (servers.length === 0) throw new UserError('the fleet has no running server to deploy to', 'Start one (portside local up --servers N, or the Auto Scaling group\'s desired capacity) and deploy again.');
  const where = new Where(servers.map((s) => steps.label(s)));
  steps.interrupt?.track(() => String(where));
  const unlisten = steps.interrupt?.listen();
  let switched: Array<Switched<S, R>>;
  try {
    switched = await rollBatches(servers, parallel, steps, where);
    // The manifest moves only now: every server has switched. A server booting from here on converges
    // to the new release by itself; one that booted before read the old manifest, which the catch-up finds.
    await steps.writeManifest();
  } finally {
    unlisten?.();
  }
  steps.log('manifest: moved to the new release');
  if (steps.interrupt?.stopping) {
    throw new UserError('interrupted (Ctrl-C) as the manifest was written: the rollout had finished, every server is on the new release; the catch-up pass did not run', 'portside services --fleet shows a server that joined meanwhile and is behind.', 130);
  }
  return { switched: switched.map((s) => s.server), caughtUp: await catchUp(steps, switched.map((s) => s.server)) };
}

/** Each batch in turn; after a failure or Ctrl-C, the switched servers are put back and this throws. */
async function rollBatches<S, R>(servers: readonly S[], parallel: number, steps: RolloutSteps<S, R>, where: Where): Promise<Array<Switched<S, R>>> {
  const switched: Array<Switched<S, R>> = [];
  const stop = steps.interrupt;
  for (const [i, listed] of batches(servers, parallel).entries()) {
    const first = i * parallel + 1;
    const which = listed.length === 1 ? `server ${first}` : `servers ${first}–${first + listed.length - 1}`;
    steps.log(`${which} of ${servers.length}: ${listed.map((s) => steps.label(s)).join(', ')}`);
    const batch = await leaveBooting(steps, listed, where);
    batch.forEach((s) => where.set(steps.label(s), 'in progress'));
    const results = await Promise.allSettled(batch.map((s) => (stop ? stop.guard(() => steps.deploy(s)) : steps.deploy(s))));
    results.forEach((r, j) => {
      where.set(steps.label(batch[j]), r.status === 'fulfilled' ? 'switched' : 'not switched: its agent put it back');
      if (r.status === 'fulfilled') switched.push({ server: batch[j], deployed: r.value });
    });
    const failedAt = results.findIndex((r) => r.status === 'rejected');
    const reason = failedAt >= 0 ? (results[failedAt] as PromiseRejectedResult).reason : undefined;
    if (stop?.stopping) await stopRollout(steps, switched, where, failedAt >= 0 ? `${steps.label(batch[failedAt])}: ${(reason as Error)?.message ?? String(reason)}` : undefined);
    if (failedAt >= 0) await failRollout(steps, batch[failedAt], reason, switched, where);
  }
  return switched;
}

/** The servers of a batch that are not booting; each booting one is said, and left to its boot. */
async function leaveBooting<S, R>(steps: RolloutSteps<S, R>, batch: readonly S[], where: Where): Promise<S[]> {
  if (!steps.isBooting) return [...batch];
  const booting = await Promise.all(batch.map((s) => steps.isBooting!(s)));
  batch.filter((_, j) => booting[j]).forEach((s) => {
    steps.log(bootingLine(steps.label(s)));
    where.set(steps.label(s), 'booting: left to its boot');
  });
  return batch.filter((_, j) => !booting[j]);
}

/** What a rollout says of a server whose boot converge is running. */
function bootingLine(label: string): string {
  return `${label} is booting: it converges to the new release itself`;
}

/** Put the switched servers back, newest first: the ones put back, and the ones that could not be (with why). */
async function putBack<S, R>(steps: RolloutSteps<S, R>, switched: ReadonlyArray<Switched<S, R>>, where: Where): Promise<{ restored: string[]; notRestored: string[] }> {
  const restored: string[] = [];
  const notRestored: string[] = [];
  for (const s of rollbackSet(switched)) {
    const label = steps.label(s.server);
    where.set(label, 'being put back');
    try {
      const restore = () => steps.restore(s.server, s.deployed);
      await (steps.interrupt ? steps.interrupt.shield(restore) : restore());
      restored.push(label);
      where.set(label, 'put back: as before');
    } catch (e) {
      notRestored.push(`${label}: ${(e as Error).message}`);
      where.set(label, 'switched, not put back');
    }
  }
  return { restored, notRestored };
}

/** Put every switched server back (newest first), then throw what failed and what was put back. */
async function failRollout<S, R>(steps: RolloutSteps<S, R>, failed: S, reason: unknown, switched: ReadonlyArray<Switched<S, R>>, where: Where): Promise<never> {
  const name = steps.label(failed);
  const back = rollbackSet(switched);
  steps.log(`${name} failed: ${back.length ? `putting ${back.map((s) => steps.label(s.server)).join(', ')} back on the previous release` : 'no other server had switched'}; the manifest stays as it was`);
  const { restored, notRestored } = await putBack(steps, switched, where);
  const why = (reason as Error)?.message ?? String(reason);
  const detail = [(reason as UserError)?.detail, notRestored.length ? `not put back (run portside rollback there): ${notRestored.join('; ')}` : undefined].filter(Boolean).join('\n') || undefined;
  throw new RolloutFailed(`deploy failed on ${name}: ${why}; ${restored.length ? `${restored.join(', ')} back on the previous release` : 'no other server had changed'}, manifest unchanged`, detail, name, restored);
}

/** Ctrl-C: put every switched server back (newest first), then throw, saying where each server is. */
async function stopRollout<S, R>(steps: RolloutSteps<S, R>, switched: ReadonlyArray<Switched<S, R>>, where: Where, failure: string | undefined): Promise<never> {
  const back = rollbackSet(switched);
  steps.log(`stopped (Ctrl-C): ${back.length ? `putting ${back.map((s) => steps.label(s.server)).join(', ')} back on the previous release` : 'no server had switched'}; the manifest stays as it was`);
  const { restored, notRestored } = await putBack(steps, switched, where);
  const detail = [`now: ${String(where)}`, failure && `failed meanwhile: ${failure}`, notRestored.length ? `not put back (run portside rollback there): ${notRestored.join('; ')}` : undefined].filter(Boolean).join('\n');
  throw new RolloutInterrupted(`interrupted (Ctrl-C): ${restored.length ? `${restored.join(', ')} back on the previous release` : 'no server had switched'}, manifest unchanged`, detail, restored);
}

/** Deploy to each server found now that is not on the new release; a failure here leaves the manifest moved. */
async function catchUp<S, R>(steps: RolloutSteps<S, R>, done: readonly S[]): Promise<S[]> {
  const found = await steps.discover();
  const labels = new Set(done.map((s) => steps.label(s)));
  const fresh = found.filter((s) => !labels.has(steps.label(s)));
  const onRelease = new Map<string, boolean>();
  for (const s of fresh) {
    const booting = await steps.isBooting?.(s);
    // Booting: its converge reads the manifest (moved already) again before it ends, so it ends on this release.
    if (booting) steps.log(`catch-up: ${bootingLine(steps.label(s))}`);
    onRelease.set(steps.label(s), booting === true || await steps.isOnRelease(s));
  }
  const behind = catchUpSet(fresh, (s) => onRelease.get(steps.label(s)) === true);
  if (behind.length === 0) return [];
  steps.log(`catch-up: ${behind.map((s) => steps.label(s)).join(', ')} joined during the rollout and run${behind.length === 1 ? 's' : ''} an older release`);
  const failures: string[] = [];
  for (const s of behind) await (steps.catchUp ?? steps.deploy).call(steps, s).catch((e: Error) => failures.push(`${steps.label(s)}: ${e.message}`));
  if (failures.length) {
    throw new UserError(`the fleet moved to the new release, but ${failures.length} server(s) that joined during the rollout did not: ${failures.join('; ')}`, 'Those servers report unhealthy and the load balancer skips them; deploy again, or replace them (they converge at boot).');
  }
  return behind;
}
