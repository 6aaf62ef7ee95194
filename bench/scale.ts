/**
 * `npm run bench -- --scale`: how Portside's deploy times grow (issue #12). Nothing-changed and
 * one-back-end-line deploys (through `npm run deploy-service`, as users type it), each point against
 * the first one (1 service, the course-sized app):
 * - the goal, as the issue sets it: with 30 services on the server AND an app of 5,000 files, both
 *   deploys stay within 1.5× (the combined point; its nothing-changed deploy is traced with
 *   bench/deploy-trace.js to show where the time goes);
 * - the curve, reported without a goal: 1, 10 and 30 services (throwaway tiny services deployed first
 *   and removed after) with the course-sized app, and 500, 5,000 and 20,000 small static files with 1 service.
 * Writes bench/results/<date>-scale.md and .json.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { GOAL_FILES, GOAL_SERVICES } from './scale-report';
import { changeBackEnd, installApp, isInstalled, writeApp } from './app';
import { Breakdown, breakdown } from './breakdown';
import { portsideDeploy, portsideRemove, standIn, stepTimes, WORK } from './flows';
import { settle } from './settle';
import { Goal, stat, Stat } from './report';
import { scaleGoals, scaleMarkdown } from './scale-report';

export interface ScaleOptions {
  readonly fake: boolean;
  readonly prefix: string;
  /** The measured service's port; throwaway services take the ports after it. */
  readonly portBase: number;
  readonly reps: number;
  readonly out: string;
  /** The files are <date>-scale-<label>.*; @default - <date>-scale.* */
  readonly label?: string;
  readonly log: (line: string) => void;
  /** The variables of this machine's environment the timed commands ran without (bench/user-env.ts). @default [] */
  readonly unsetEnv?: readonly string[];
  /** @default [1, 10, 30] */
  readonly services?: readonly number[];
  /** @default [500, 5000, 20000] */
  readonly fileCounts?: readonly number[];
}

/** What a point is: the baseline (measured first, and again at the end), a point of one of the two curves, or the issue's goal point (both at once). */
export type ScaleRole = 'baseline' | 'baseline-again' | 'services' | 'files' | 'combined';

export interface ScalePoint {
  readonly role: ScaleRole;
  /** Services registered on the server while measuring (ours and anyone else's on the shared stand-in). */
  readonly registered: number;
  /** Throwaway services this run had deployed. */
  readonly throwaways: number;
  /** Extra static files in the app (0: the course-sized app). */
  readonly files: number;
  readonly unchanged: Stat;
  readonly backend: Stat;
  /** The step times the CLI printed for the back-end-line deploys (medians, ms). */
  readonly steps: Record<string, number>;
}

export { GOAL_FILES, GOAL_SERVICES, SCALE_GOAL } from './scale-report';

/** A dependency-free service: one deploy takes a second, and 30 of them fit in the stand-in's memory. */
function writeTinyService(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tiny', version: '1.0.0', main: 'index.js' }, null, 2) + '\n');
  writeFileSync(join(dir, 'index.js'), "require('http').createServer((q, s) => s.end('tiny')).listen(Number(process.argv[2]));\n");
}

/** Small static files where the front-end build copies them to its output (Vite: public/; the fake build: src/). */
function setStaticFiles(app: string, fake: boolean, n: number): void {
  const dir = join(app, fake ? 'src' : 'public', 'many');
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < n; i++) {
    const sub = join(dir, `d${Math.floor(i / 250)}`);
    if (i % 250 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.txt`), `static file ${i}\n`.repeat(8));
  }
}

export { stepTimes } from './flows';

function registeredServices(user: string): number {
  const home = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5];
  return Object.keys(JSON.parse(readFileSync(join(home, '.portside', 'registry.json'), 'utf8')).services ?? {}).length;
}

/** What every part of a scale run needs. */
interface Scale {
  readonly o: ScaleOptions;
  readonly user: string;
  /** The measured service and its app. */
  readonly name: string;
  readonly app: string;
  /** The tiny service's folder, and the names its throwaway copies are deployed under. */
  readonly tiny: string;
  readonly throwaway: (i: number) => string;
}

export async function runScale(o: ScaleOptions): Promise<{ points: ScalePoint[]; goals: Goal[]; files: string[]; traced: Breakdown | null }> {
  const t0 = Date.now();
  const s = await setUpScale(o);
  o.log(`first deploy of ${s.name}`);
  await portsideDeploy(s.app, s.name, [String(o.portBase)], 'npm');
  const { points, traced } = await withServices(s);
  points.push(...await withFiles(s));
  const goals = scaleGoals(points);
  const date = new Date(t0).toISOString().slice(0, 10);
  mkdirSync(o.out, { recursive: true });
  const fileName = `${date}-scale${o.label ? `-${o.label}` : ''}`;
  const files = [join(o.out, `${fileName}.md`), join(o.out, `${fileName}.json`)];
  writeFileSync(files[0], scaleMarkdown(points, goals, traced, { date, durationS: (Date.now() - t0) / 1000, reps: o.reps, fake: o.fake, unsetEnv: o.unsetEnv ?? [] }));
  writeFileSync(files[1], JSON.stringify({ date, reps: o.reps, fake: o.fake, unsetEnv: o.unsetEnv ?? [], points, goals, traced }) + '\n');
  return { points, goals, files, traced };
}

/** The stand-in up, the apps written (the course-sized app installed), and what an earlier run left removed. */
async function setUpScale(o: ScaleOptions): Promise<Scale> {
  const server = await standIn(o.log);
  const s: Scale = {
    o, user: server.user, name: `${o.prefix}-scale`,
    app: join(WORK, o.fake ? `${o.prefix}-scale-app-fake` : `${o.prefix}-scale-app`),
    tiny: join(WORK, `${o.prefix}-tiny`), throwaway: (i) => `${o.prefix}-t${i}`,
  };
  writeApp(s.app, { fake: o.fake });
  if (!o.fake && !isInstalled(s.app)) installApp(s.app, o.log);
  setStaticFiles(s.app, o.fake, 0);
  writeTinyService(s.tiny);
  o.log('removing what an earlier scale run left on the server');
  await portsideRemove(s.name);
  for (let i = 1; i <= Math.max(GOAL_SERVICES, ...(o.services ?? [])) - 1; i++) await portsideRemove(s.throwaway(i));
  return s;
}

/** One point: an untimed deploy (it builds and sends whatever the new size needs), then `reps` nothing-changed and one-line deploys. */
async function measure(s: Scale, role: ScaleRole, throwaways: number, files: number): Promise<ScalePoint> {
  const deploy = async () => {
    await settle();
    return portsideDeploy(s.app, s.name, [String(s.o.portBase)], 'npm');
  };
  changeBackEnd(s.app, `scale-setup-${Date.now()}`);
  await deploy();
  const unchanged: number[] = [];
  const backend: number[] = [];
  const steps: Array<Record<string, number>> = [];
  for (let rep = 0; rep < s.o.reps; rep++) {
    unchanged.push((await deploy()).ms);
    changeBackEnd(s.app, `scale-${throwaways}-${files}-${rep}-${Date.now()}`);
    const r = await deploy();
    backend.push(r.ms);
    steps.push(stepTimes(r.out));
  }
  const keys = [...new Set(steps.flatMap((x) => Object.keys(x)))];
  const point: ScalePoint = {
    role, registered: registeredServices(s.user), throwaways, files,
    unchanged: stat(unchanged), backend: stat(backend),
    steps: Object.fromEntries(keys.map((k) => [k, stat(steps.map((x) => x[k] ?? 0)).median])),
  };
  s.o.log(`${point.registered} services registered (${throwaways} throwaway), ${files} extra files: nothing changed ${(point.unchanged.median / 1000).toFixed(2)} s, one back-end line ${(point.backend.median / 1000).toFixed(2)} s (${Object.entries(point.steps).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} ms)`);
  return point;
}

/**
 * A point at each service count (throwaway tiny services deployed up to it), then, with GOAL_SERVICES
 * services registered, the combined point (the app with GOAL_FILES extra files, traced); the
 * throwaways and the extra files removed after.
 */
async function withServices(s: Scale): Promise<{ points: ScalePoint[]; traced: Breakdown | null }> {
  const points: ScalePoint[] = [];
  let deployed = 0;
  let traced: Breakdown | null = null;
  const deployUpTo = async (n: number): Promise<void> => {
    for (; deployed < n - 1; deployed++) await portsideDeploy(s.tiny, s.throwaway(deployed + 1), [String(s.o.portBase + 1 + deployed)]);
  };
  try {
    for (const n of s.o.services ?? [1, 10, 30]) {
      await deployUpTo(n);
      points.push(await measure(s, points.length ? 'services' : 'baseline', deployed, 0));
    }
    await deployUpTo(GOAL_SERVICES);
    s.o.log(`the goal point: ${GOAL_SERVICES} services and the app with ${GOAL_FILES} extra static files`);
    setStaticFiles(s.app, s.o.fake, GOAL_FILES);
    points.push(await measure(s, 'combined', deployed, GOAL_FILES));
    traced = await breakdown(s.app, s.name, s.o.portBase, Math.max(3, s.o.reps));
    s.o.log(`traced at the goal point: ${traced.phases.map((p) => `${p.name.split(' (')[0]} ${p.ms.toFixed(0)} ms`).join('; ')}`);
  } finally {
    setStaticFiles(s.app, s.o.fake, 0);
    s.o.log(`removing the ${deployed} throwaway services`);
    for (let i = 1; i <= deployed; i++) await portsideRemove(s.throwaway(i));
  }
  return { points, traced };
}

/** A point at each file count (1 service: the throwaways are gone); the extra files and the service removed after. */
async function withFiles(s: Scale): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  try {
    for (const files of s.o.fileCounts ?? [500, 5000, 20000]) {
      s.o.log(`the app with ${files} extra static files`);
      setStaticFiles(s.app, s.o.fake, files);
      points.push(await measure(s, 'files', 0, files));
    }
    s.o.log('the baseline again (1 service, the course-sized app)');
    setStaticFiles(s.app, s.o.fake, 0);
    points.push(await measure(s, 'baseline-again', 0, 0));
  } finally {
    setStaticFiles(s.app, s.o.fake, 0);
    await portsideRemove(s.name);
  }
  return points;
}
