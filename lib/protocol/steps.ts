/**
 * The steps the agent runs, in the order it runs them: the one list the agent announces, the CLI
 * prints and times, Ctrl-C consults (which steps commit) and `--dry-run` and the README show.
 * Pure data: no I/O.
 */

/** A step's name as it appears on the wire and in `→ upload` / `✓ upload (0.04 s)`. */
export type StepName = 'upload' | 'install' | 'probe' | 'stop' | 'switch' | 'route' | 'verify' | 'save' | 'purge';

/** The agent's commands (`node agent.js <command>`). */
export type AgentCommand = 'deploy' | 'deploy-files' | 'rollback' | 'remove' | 'sync' | 'status' | 'repair' | 'converge';

export interface StepInfo {
  readonly name: StepName;
  /** What the step does, in one line (dry-run output, the README's step list). */
  readonly does: string;
  /**
   * From this step on the server's change goes through (or is rolled back on its own): Ctrl-C before
   * it stops the agent safely, Ctrl-C at or after it lets the agent finish.
   */
  readonly commits: boolean;
}

/** Every step, in run order across all commands (each command runs a subsequence, COMMAND_STEPS). */
export const STEPS: readonly StepInfo[] = [
  { name: 'upload', commits: false, does: 'make the new release folder from the current one by hard links and unpack only the changed files into it' },
  { name: 'install', commits: false, does: 'npm ci when package-lock.json changed (install scripts off unless allowed), else keep the current node_modules' },
  { name: 'probe', commits: false, does: 'start the new release on a spare port from the dynamic range and wait for a healthy answer; it is stopped after' },
  { name: 'stop', commits: true, does: 'pm2 delete the service' },
  { name: 'switch', commits: true, does: 'point `current` at the new release and start or reload it under pm2 on its port, then health-check it there' },
  { name: 'route', commits: true, does: 'validate the new Caddyfile with Caddy, swap it in with the registry, reload Caddy gracefully' },
  { name: 'verify', commits: false, does: 'GET the URL through Caddy and check the new process is still the one answering; a failure puts the previous release back' },
  { name: 'save', commits: false, does: 'pm2 save (unless reloaded), record the release in deploys.json, remove releases beyond the kept ones' },
  { name: 'purge', commits: true, does: "remove the service's folder and every release in it" },
];

/** The steps each command may announce, in order (a step is skipped when it has nothing to do). */
export const COMMAND_STEPS: Readonly<Record<AgentCommand, readonly StepName[]>> = {
  deploy: ['upload', 'install', 'probe', 'switch', 'route', 'verify', 'save'],
  'deploy-files': ['upload', 'switch', 'verify'],
  rollback: ['probe', 'switch'],
  remove: ['stop', 'route', 'purge'],
  sync: ['route'],
  status: [],
  repair: [],
  // A fleet server's convergence runs `deploy`'s steps once per service that is not on the manifest's release.
  converge: ['upload', 'install', 'probe', 'switch', 'route', 'verify', 'save'],
};

/** The steps after whose start a change is committed (Ctrl-C lets the agent finish). */
export const COMMIT_STEPS: ReadonlySet<StepName> = new Set(STEPS.filter((s) => s.commits).map((s) => s.name));

/** A step's entry in STEPS. */
export function stepInfo(name: StepName): StepInfo {
  const info = STEPS.find((s) => s.name === name);
  if (!info) throw new Error(`unknown step ${JSON.stringify(name)}: the steps are ${STEPS.map((s) => s.name).join(', ')}`);
  return info;
}

/** Whether a wire string names a step (messages from an older or newer agent may not). */
export function isStepName(name: string): name is StepName {
  return STEPS.some((s) => s.name === name);
}
