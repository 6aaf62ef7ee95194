/**
 * `npm run bench -- --scale`: how Portside's deploy times grow. Nothing-changed and one-back-end-line
 * deploys (through `npm run deploy-service`, as users type it) with 1, 10 and 30 services registered on
 * the stand-in (throwaway tiny services deployed first and removed after), and with the app carrying
 * 500, 5,000 and 20,000 small static files; each point against the first one (1 service, the course-
 * sized app). At 5,000 files the deploy is traced (bench/deploy-trace.js) to show where the time goes.
 * Writes bench/results/<date>-scale.md and .json.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { changeBackEnd, installApp, isInstalled, writeApp } from './app';
import { Breakdown, breakdown } from './breakdown';
import { portsideDeploy, portsideRemove, standIn, stepTimes, WORK } from './flows';
import { breakdownMarkdown, Goal, stat, Stat } from './report';

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
  /** @default [1, 10, 30] */
  readonly services?: readonly number[];
  /** @default [500, 5000, 20000] */
  readonly fileCounts?: readonly number[];
}

export interface ScalePoint {
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

/** The slowest a point may be against the baseline (1 service, the course-sized app). */
export const SCALE_GOAL = 1.5;

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
  const points = await withServices(s);
  const { points: filePoints, traced } = await withFiles(s);
  points.push(...filePoints);
  const goals = scaleGoals(points);
  const date = new Date(t0).toISOString().slice(0, 10);
  mkdirSync(o.out, { recursive: true });
  const fileName = `${date}-scale${o.label ? `-${o.label}` : ''}`;
  const files = [join(o.out, `${fileName}.md`), join(o.out, `${fileName}.json`)];
  writeFileSync(files[0], scaleMarkdown(points, goals, traced, { date, durationS: (Date.now() - t0) / 1000, reps: o.reps, fake: o.fake }));
  writeFileSync(files[1], JSON.stringify({ date, reps: o.reps, fake: o.fake, points, goals, traced }) + '\n');
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
  for (let i = 1; i <= Math.max(...(o.services ?? [1, 10, 30])) - 1; i++) await portsideRemove(s.throwaway(i));
  return s;
}

/** One point: an untimed deploy (it builds and sends whatever the new size needs), then `reps` nothing-changed and one-line deploys. */
async function measure(s: Scale, throwaways: number, files: number): Promise<ScalePoint> {
  const deploy = () => portsideDeploy(s.app, s.name, [String(s.o.portBase)], 'npm');
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
    registered: registeredServices(s.user), throwaways, files,
    unchanged: stat(unchanged), backend: stat(backend),
    steps: Object.fromEntries(keys.map((k) => [k, stat(steps.map((x) => x[k] ?? 0)).median])),
  };
  s.o.log(`${point.registered} services registered (${throwaways} throwaway), ${files} extra files: nothing changed ${(point.unchanged.median / 1000).toFixed(2)} s, one back-end line ${(point.backend.median / 1000).toFixed(2)} s (${Object.entries(point.steps).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} ms)`);
  return point;
}

/** A point at each service count (throwaway tiny services deployed up to it), the throwaways removed after. */
async function withServices(s: Scale): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  let deployed = 0;
  try {
    for (const n of s.o.services ?? [1, 10, 30]) {
      for (; deployed < n - 1; deployed++) {
        await portsideDeploy(s.tiny, s.throwaway(deployed + 1), [String(s.o.portBase + 1 + deployed)]);
      }
      points.push(await measure(s, deployed, 0));
    }
  } finally {
    s.o.log(`removing the ${deployed} throwaway services`);
    for (let i = 1; i <= deployed; i++) await portsideRemove(s.throwaway(i));
  }
  return points;
}

/** A point at each file count, traced at 5,000 files; the extra files and the service removed after. */
async function withFiles(s: Scale): Promise<{ points: ScalePoint[]; traced: Breakdown | null }> {
  const points: ScalePoint[] = [];
  let traced: Breakdown | null = null;
  try {
    for (const files of s.o.fileCounts ?? [500, 5000, 20000]) {
      s.o.log(`the app with ${files} extra static files`);
      setStaticFiles(s.app, s.o.fake, files);
      points.push(await measure(s, 0, files));
      if (files === 5000) {
        traced = await breakdown(s.app, s.name, s.o.portBase, Math.max(3, s.o.reps));
        s.o.log(`traced at 5000 files: ${traced.phases.map((p) => `${p.name.split(' (')[0]} ${p.ms.toFixed(0)} ms`).join('; ')}`);
      }
    }
  } finally {
    setStaticFiles(s.app, s.o.fake, 0);
    await portsideRemove(s.name);
  }
  return { points, traced };
}

/** Each point against the first (1 service, the course-sized app), nothing changed and one back-end line. */
function scaleGoals(points: readonly ScalePoint[]): Goal[] {
  const base = points[0];
  return points.slice(1).flatMap((p) => (['unchanged', 'backend'] as const).map((k) => {
    const r = p[k].median / base[k].median;
    return {
      scenario: `${k === 'unchanged' ? 'nothing changed' : 'one back-end line'}, ${p.files ? `${p.files} extra files` : `${p.registered} services registered`}`,
      goal: `within ${SCALE_GOAL}× of 1 service, course-sized app`, measured: `${r.toFixed(2)}× (${(p[k].median / 1000).toFixed(2)} s vs ${(base[k].median / 1000).toFixed(2)} s)`, met: r <= SCALE_GOAL,
    };
  }));
}

function scaleMarkdown(points: ScalePoint[], goals: Goal[], traced: Breakdown | null, m: { date: string; durationS: number; reps: number; fake: boolean }): string {
  const s2 = (ms: number): string => (ms / 1000).toFixed(2);
  const base = points[0];
  const out: string[] = [`# How Portside's deploy times grow — ${m.date}`, ''];
  out.push(`One run of \`npm run bench -- --scale\`, ${Math.round(m.durationS)} s, against the shared local stand-in; ${m.reps} repetitions per point, medians with (min–max), each deploy through \`npm run deploy-service\`. ${m.fake ? 'The smoke app (no Vite).' : 'The course-shaped app (Vite + React, Express in service/).'} Services: throwaway dependency-free services deployed before and removed after (the count is everything registered on the server, others' included). Files: small (~130-byte) static files the front-end build copies into its output, so every one is in the release.`, '');
  out.push('| services registered | extra static files | nothing changed: s | × baseline | one back-end line: s | × baseline | steps of the back-end-line deploy (ms) |', '|---|---|---|---|---|---|---|');
  for (const p of points) {
    out.push(`| ${p.registered} | ${p.files} | ${s2(p.unchanged.median)} (${s2(p.unchanged.min)}–${s2(p.unchanged.max)}) | ${(p.unchanged.median / base.unchanged.median).toFixed(2)}× | ${s2(p.backend.median)} (${s2(p.backend.min)}–${s2(p.backend.max)}) | ${(p.backend.median / base.backend.median).toFixed(2)}× | ${Object.entries(p.steps).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} |`);
  }
  out.push('', '## Goals', '', '| point | goal | measured | met |', '|---|---|---|---|');
  for (const g of goals) out.push(`| ${g.scenario} | ${g.goal} | ${g.measured} | ${g.met ? 'yes' : '**no**'} |`);
  if (traced) {
    out.push('', '## Where a nothing-changed deploy of the 5,000-file app spends its time', '', `${traced.runs} traced runs (bench/deploy-trace.js), medians per phase.`, '');
    out.push(...breakdownMarkdown(traced));
  }
  return out.join('\n') + '\n';
}
