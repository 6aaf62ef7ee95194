/**
 * The shape of a rollout, pure: which servers go together (batches of `--parallel N`, in the order the
 * fleet was listed), and which servers a failure puts back. lib/fleet/rollout.ts carries it out.
 */
import { UsageError } from '../errors';

/** `--parallel`'s largest value: more SSH sessions at once than this is a mistake, not a speed-up. */
export const MAX_PARALLEL = 16;

/** `--parallel N` as typed, or a UsageError with the value, the rule and an example. @default 1 */
export function parseParallel(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = /^[0-9]{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_PARALLEL)) {
    throw new UsageError(`--parallel ${JSON.stringify(text)} must be a whole number of servers from 1 to ${MAX_PARALLEL}, e.g. --parallel 2 (default 1: one server at a time)`);
  }
  return n;
}

/** The servers in batches of `parallel`, in order: batch i starts only when batch i−1 has switched. */
export function batches<S>(servers: readonly S[], parallel: number): S[][] {
  if (!Number.isInteger(parallel) || parallel < 1) throw new Error(`parallel must be a whole number ≥ 1, got ${parallel}`);
  const out: S[][] = [];
  for (let i = 0; i < servers.length; i += parallel) out.push(servers.slice(i, i + parallel));
  return out;
}

/**
 * What a failure puts back: every server that switched in this rollout (earlier batches, and the
 * failed batch's servers that switched before their neighbour failed), newest first, so the fleet
 * unwinds in the reverse order it moved. The failed servers themselves are put back by their agent.
 */
export function rollbackSet<S>(switched: readonly S[]): S[] {
  return [...switched].reverse();
}

/**
 * The catch-up pass: servers found after the manifest moved that are not on the new release (one that
 * booted mid-rollout converged to the old manifest), in the order found.
 */
export function catchUpSet<S>(found: readonly S[], isOnRelease: (s: S) => boolean): S[] {
  return found.filter((s) => !isOnRelease(s));
}
