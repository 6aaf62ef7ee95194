/**
 * The timed redeploy scenarios of `npm run bench`: each change (none, a back-end line, a front-end word,
 * a dependency), deployed by every flow in turn, interleaved, the order alternating by repetition.
 */
import { ADDED_DEPENDENCIES, addDependency, changeBackEnd, changeFrontEnd } from './app';
import { DeployResult, waitedForLock } from './flows';
import { Flow, kB, ScenarioResult, stat } from './report';
import { settle } from './settle';

/** The deploy each flow runs (retried once on a broken connection; see the bench's deployers). */
export type Deployers = Record<Flow, () => Promise<DeployResult>>;

export interface ScenarioOptions {
  readonly app: string;
  readonly reps: number;
  readonly fake: boolean;
  /** Which scenarios also time the bare CLI. @default 'all' (nothing changed, a back-end line, a front-end word) */
  readonly bareScenarios?: 'all' | 'unchanged';
  readonly log: (line: string) => void;
}

type Acc = Record<Flow, DeployResult[]>;

interface Scenario {
  readonly id: string;
  readonly title: string;
  /** Make the change; variant 1 is a second, different change of the same kind. */
  readonly prepare: (rep: number, variant: number) => void;
  readonly acc: Acc;
}

function scenarioList(o: ScenarioOptions): Scenario[] {
  const acc = (): Acc => ({ scp: [], portside: [], bare: [] });
  const app = o.app;
  return [
    { id: 'unchanged', title: 'redeploy, nothing changed', prepare: () => {}, acc: acc() },
    { id: 'backend', title: 'back end changed by one line', prepare: (rep, v) => changeBackEnd(app, `v${rep}.${v}-${Date.now()}`), acc: acc() },
    { id: 'frontend', title: 'front end changed by one word', prepare: (rep, v) => changeFrontEnd(app, `Startup ${rep}.${v}-${Date.now() % 1000}`), acc: acc() },
    { id: 'dependency', title: 'a dependency added (back end)', prepare: (rep) => (o.fake ? changeBackEnd(app, `dep${rep}`) : addDependency(app, ADDED_DEPENDENCIES[rep % ADDED_DEPENDENCIES.length])), acc: acc() },
  ];
}

/**
 * One deploy of a scenario by one flow. Someone else's deploy may take the lock between our check
 * and our start: then it is measured again, up to three times, with a fresh change.
 */
async function measure(sc: Scenario, flow: Flow, deploy: () => Promise<DeployResult>, o: ScenarioOptions): Promise<DeployResult> {
  await settle();
  let r = await deploy();
  for (let retry = 0; retry < 3 && waitedForLock(r); retry++) {
    o.log(`  ${flow} waited for another deploy's lock (${(r.ms / 1000).toFixed(2)} s): measuring again`);
    if (sc.id === 'dependency' && !o.fake) addDependency(o.app, ADDED_DEPENDENCIES[(o.reps + retry) % ADDED_DEPENDENCIES.length]);
    else if (sc.id !== 'unchanged') changeBackEnd(o.app, `retry-${Date.now()}`);
    if (sc.id === 'frontend') changeFrontEnd(o.app, `Retry ${Date.now() % 1000}`);
    await settle();
    r = await deploy();
  }
  return r;
}

/**
 * One repetition of one scenario: every flow deploys it. Every flow starts from the same state, the
 * previous flow's deploy of the last change; the npm-launched and the bare CLI deploy the same
 * service, so the second of them gets a change of its own (else it would find its change already live).
 */
async function runRepetition(sc: Scenario, rep: number, deployers: Deployers, o: ScenarioOptions): Promise<void> {
  // Adding a dependency twice per repetition would run out of small packages: no bare timing there.
  const bareIn = o.bareScenarios === 'unchanged' ? ['unchanged'] : ['unchanged', 'backend', 'frontend'];
  sc.prepare(rep, 0);
  const flows: Flow[] = bareIn.includes(sc.id) ? ['scp', 'portside', 'bare'] : ['scp', 'portside'];
  const order = rep % 2 === 0 ? flows : [...flows].reverse();
  let portsideRuns = 0;
  for (const flow of order) {
    if (flow !== 'scp' && portsideRuns++ > 0) sc.prepare(rep, 1);
    const r = await measure(sc, flow, deployers[flow], o);
    sc.acc[flow].push(r);
    o.log(`rep ${rep + 1}/${o.reps} ${sc.id.padEnd(10)} ${flow.padEnd(8)} ${(r.ms / 1000).toFixed(2)} s, ${kB(r.bytes)}, build ${(r.buildMs / 1000).toFixed(2)} s`);
  }
}

function resultOf(sc: Scenario): ScenarioResult {
  return {
    id: sc.id, title: sc.title,
    flows: Object.fromEntries((['scp', 'portside', 'bare'] as Flow[]).filter((f) => sc.acc[f].length).map((f) => [f, {
      ms: stat(sc.acc[f].map((r) => r.ms)), bytes: stat(sc.acc[f].map((r) => r.bytes)), buildMs: stat(sc.acc[f].map((r) => r.buildMs)),
      addedMs: stat(sc.acc[f].map((r) => r.ms - r.buildMs)), notes: sc.acc[f].map((r) => r.note).filter(Boolean), ...stepMedians(sc.acc[f]),
    }])) as ScenarioResult['flows'],
  };
}

/** The median of each step over the deploys that reported it; nothing when none did (the scp flow). */
function stepMedians(results: readonly DeployResult[]): { steps?: Record<string, number> } {
  const names = [...new Set(results.flatMap((r) => Object.keys(r.steps ?? {})))];
  if (!names.length) return {};
  return { steps: Object.fromEntries(names.map((n) => [n, stat(results.flatMap((r) => (r.steps?.[n] === undefined ? [] : [r.steps[n]]))).median])) };
}

/** Every scenario, `o.reps` times, interleaved (each repetition runs every scenario once). */
export async function runScenarios(deployers: Deployers, o: ScenarioOptions): Promise<ScenarioResult[]> {
  const scenarios = scenarioList(o);
  for (let rep = 0; rep < o.reps; rep++) {
    for (const sc of scenarios) await runRepetition(sc, rep, deployers, o);
  }
  return scenarios.map(resultOf);
}
