import { randomBytes } from 'node:crypto';

/**
 * A new release id: the UTC time to the second, then 4 random hex digits (two deploys in the same
 * second differ), e.g. 20261130T073456Z-ab12. Ids sort by time, which pruning relies on. Made by the
 * CLI for a new release and by the agent for a restart of unchanged files: one function for both.
 */
export function newReleaseId(now = new Date(), random: () => string = () => randomBytes(2).toString('hex')): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${random()}`;
}
