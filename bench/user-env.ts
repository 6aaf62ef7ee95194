/**
 * The timed commands run in a user's environment, not in this workplace's. This machine's environment
 * sets NODE_EXTRA_CA_CERTS (the CA bundle of its package proxy, 150 certificates). Node 20 reads and
 * parses that file as every process starts, before any JavaScript runs (nodejs/node#23354 made the
 * load eager; #44529 made it lazy again in later majors; Node's docs: "only read when the Node.js
 * process is first launched"). Measured here: `node -e 0` 63 ms with it, 25 ms without, paid by npm's
 * process and the CLI's alike, and by every Node process of the course's flow (npm install, the build).
 * A user's machine does not set it, and npm reaches its registry here through its own `cafile` setting,
 * so both flows are timed without it; `--keep-env` times them with this machine's environment as it is.
 */

/** Variables of this workplace, not of a user's machine, that slow every Node process's start. */
export const WORKPLACE_ONLY: readonly string[] = ['NODE_EXTRA_CA_CERTS'];

/** Remove WORKPLACE_ONLY from `env` (this process's, which every timed command inherits); returns the names removed. */
export function asOnAUsersMachine(env: NodeJS.ProcessEnv = process.env): string[] {
  const removed = WORKPLACE_ONLY.filter((k) => env[k] !== undefined);
  for (const k of removed) delete env[k];
  return removed;
}
