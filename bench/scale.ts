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

export async function runScale(o: ScaleOptions): Promise<{ points: ScalePoint[]; goals: Goal[]; files: string[]; traced: Breakdown | null }> {
  const t0 = Date.now();
  const log = o.log;
  const server = await standIn(log);
  const name = `${o.prefix}-scale`;
  const app = join(WORK, o.fake ? `${o.prefix}-scale-app-fake` : `${o.prefix}-scale-app`);
  const tiny = join(WORK, `${o.prefix}-tiny`);
  const throwaway = (i: number): string => `${o.prefix}-t${i}`;
  const serviceCounts = o.services ?? [1, 10, 30];
  const fileCounts = o.fileCounts ?? [500, 5000, 20000];
  const maxThrowaways = Math.max(...serviceCounts) - 1;
  writeApp(app, { fake: o.fake });
  if (!o.fake && !isInstalled(app)) installApp(app, log);
  setStaticFiles(app, o.fake, 0);
  writeTinyService(tiny);

  log('removing what an earlier scale run left on the server');
  await portsideRemove(name);
  for (let i = 1; i <= maxThrowaways; i++) await portsideRemove(throwaway(i));

  const deploy = () => portsideDeploy(app, name, [String(o.portBase)], 'npm');
  let change = 0;
  const measure = async (throwaways: number, files: number): Promise<ScalePoint> => {
    // An untimed deploy first: it builds and sends whatever the new size needs.
    changeBackEnd(app, `scale-setup-${Date.now()}`);
    await deploy();
    const unchanged: number[] = [];
    const backend: number[] = [];
    const steps: Array<Record<string, number>> = [];
    for (let rep = 0; rep < o.reps; rep++) {
      unchanged.push((await deploy()).ms);
      changeBackEnd(app, `scale-${++change}-${Date.now()}`);
      const r = await deploy();
      backend.push(r.ms);
      steps.push(stepTimes(r.out));
    }
    const keys = [...new Set(steps.flatMap((s) => Object.keys(s)))];
    const point: ScalePoint = {
      registered: registeredServices(server.user), throwaways, files,
      unchanged: stat(unchanged), backend: stat(backend),
      steps: Object.fromEntries(keys.map((k) => [k, stat(steps.map((s) => s[k] ?? 0)).median])),
    };
    log(`${point.registered} services registered (${throwaways} throwaway), ${files} extra files: nothing changed ${(point.unchanged.median / 1000).toFixed(2)} s, one back-end line ${(point.backend.median / 1000).toFixed(2)} s (${Object.entries(point.steps).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} ms)`);
    return point;
  };

  const points: ScalePoint[] = [];
  let traced: Breakdown | null = null;
  let deployed = 0;
  log(`first deploy of ${name}`);
  await portsideDeploy(app, name, [String(o.portBase)], 'npm');
  try {
    for (const n of serviceCounts) {
      for (; deployed < n - 1; deployed++) {
        await portsideDeploy(tiny, throwaway(deployed + 1), [String(o.portBase + 1 + deployed)]);
      }
      points.push(await measure(deployed, 0));
    }
  } finally {
    log(`removing the ${deployed} throwaway services`);
    for (let i = 1; i <= deployed; i++) await portsideRemove(throwaway(i));
  }
  try {
    for (const files of fileCounts) {
      log(`the app with ${files} extra static files`);
      setStaticFiles(app, o.fake, files);
      points.push(await measure(0, files));
      if (files === 5000) {
        traced = await breakdown(app, name, o.portBase, Math.max(3, o.reps));
        log(`traced at 5000 files: ${traced.phases.map((p) => `${p.name.split(' (')[0]} ${p.ms.toFixed(0)} ms`).join('; ')}`);
      }
    }
  } finally {
    setStaticFiles(app, o.fake, 0);
    await portsideRemove(name);
  }

  const base = points[0];
  const goals: Goal[] = points.slice(1).flatMap((p) => (['unchanged', 'backend'] as const).map((k) => {
    const r = p[k].median / base[k].median;
    return {
      scenario: `${k === 'unchanged' ? 'nothing changed' : 'one back-end line'}, ${p.files ? `${p.files} extra files` : `${p.registered} services registered`}`,
      goal: `within ${SCALE_GOAL}× of 1 service, course-sized app`, measured: `${r.toFixed(2)}× (${(p[k].median / 1000).toFixed(2)} s vs ${(base[k].median / 1000).toFixed(2)} s)`, met: r <= SCALE_GOAL,
    };
  }));

  const date = new Date(t0).toISOString().slice(0, 10);
  mkdirSync(o.out, { recursive: true });
  const fileName = `${date}-scale${o.label ? `-${o.label}` : ''}`;
  const files = [join(o.out, `${fileName}.md`), join(o.out, `${fileName}.json`)];
  writeFileSync(files[0], scaleMarkdown(points, goals, traced, { date, durationS: (Date.now() - t0) / 1000, reps: o.reps, fake: o.fake }));
  writeFileSync(files[1], JSON.stringify({ date, reps: o.reps, fake: o.fake, points, goals, traced }) + '\n');
  return { points, goals, files, traced };
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
