/**
 * The scale run's goals and report (pure): the issue's goal point (GOAL_SERVICES services and GOAL_FILES
 * files at once) against the baseline, and the curve of every point, reported without a goal.
 */
import type { Breakdown } from './breakdown';
import { breakdownMarkdown, Goal } from './report';
import type { ScalePoint } from './scale';

/** The slowest the combined point may be against the baseline (1 service, the course-sized app). */
export const SCALE_GOAL = 1.5;
/** The issue's goal point: this many services registered, and an app with this many extra files. */
export const GOAL_SERVICES = 30;
export const GOAL_FILES = 5000;

const s2 = (ms: number): string => (ms / 1000).toFixed(2);

/**
 * The baseline's median for one kind of deploy: the faster of the baseline measured first and measured
 * again at the end (`baseline-again`). The first point of a run has measured slower than later ones with more
 * services (0.37 s against 0.33 s with 35 services registered, 2026-11-30-scale-s1): dividing by the
 * faster one never makes a ratio look better than it is.
 */
export function baselineMedian(points: readonly ScalePoint[], k: 'unchanged' | 'backend'): number {
  const bases = points.filter((p) => p.role === 'baseline' || p.role === 'baseline-again');
  if (!bases.length) throw new Error('a scale run without its baseline point (1 service, the course-sized app) has nothing to compare with');
  return Math.min(...bases.map((p) => p[k].median));
}

/** The issue's goals: the combined point against the baseline, nothing changed and one back-end line. Curve points have none. */
export function scaleGoals(points: readonly ScalePoint[]): Goal[] {
  const base = { unchanged: baselineMedian(points, 'unchanged'), backend: baselineMedian(points, 'backend') };
  return points.filter((p) => p.role === 'combined').flatMap((p) => (['unchanged', 'backend'] as const).map((k) => {
    const r = p[k].median / base[k];
    const extra = (p[k].median - base[k]) / 1000;
    return {
      scenario: `${k === 'unchanged' ? 'nothing changed' : 'one back-end line'}, ${p.registered} services registered and ${p.files} extra files`,
      goal: `within ${SCALE_GOAL}× of 1 service, course-sized app`,
      measured: `${r.toFixed(2)}× (${s2(p[k].median)} s vs ${s2(base[k])} s, ${extra >= 0 ? '+' : '−'}${Math.abs(extra).toFixed(2)} s)`,
      met: r <= SCALE_GOAL,
    };
  }));
}

const ROLE_TEXT: Record<ScalePoint['role'], string> = {
  baseline: 'baseline', 'baseline-again': 'baseline, again at the end', services: 'curve: services', files: 'curve: files', combined: '**goal point**',
};

/** One row per point: what it is, its size, both deploys' medians (min–max) and ratios, the back-end deploy's steps. */
function pointRows(points: readonly ScalePoint[]): string[] {
  const hasBase = points.some((p) => p.role === 'baseline' || p.role === 'baseline-again');
  const base = { unchanged: hasBase ? baselineMedian(points, 'unchanged') : points[0].unchanged.median, backend: hasBase ? baselineMedian(points, 'backend') : points[0].backend.median };
  const rows = ['| point | services registered | extra static files | nothing changed: s | × baseline | one back-end line: s | × baseline | steps of the back-end-line deploy (ms) |', '|---|---|---|---|---|---|---|---|'];
  for (const p of points) {
    const cell = (k: 'unchanged' | 'backend'): string => `${s2(p[k].median)} (${s2(p[k].min)}–${s2(p[k].max)}) | ${(p[k].median / base[k]).toFixed(2)}×`;
    rows.push(`| ${ROLE_TEXT[p.role]} | ${p.registered} | ${p.files} | ${cell('unchanged')} | ${cell('backend')} | ${Object.entries(p.steps).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} |`);
  }
  return rows;
}

export function scaleMarkdown(points: readonly ScalePoint[], goals: readonly Goal[], traced: Breakdown | null, m: { date: string; durationS: number; reps: number; fake: boolean; unsetEnv?: readonly string[] }): string {
  const out: string[] = [`# How Portside's deploy times grow — ${m.date}`, ''];
  out.push(`One run of \`npm run bench -- --scale\`, ${Math.round(m.durationS)} s, against the shared local stand-in; ${m.reps} repetitions per point, medians with (min–max), each deploy through \`npm run deploy-service\`. ${m.fake ? 'The smoke app (no Vite).' : 'The course-shaped app (Vite + React, Express in service/).'} Services: throwaway dependency-free services deployed before and removed after (the count is everything registered on the server, others' included). Files: small (~130-byte) static files the front-end build copies into its output, so every one is in the release.${m.unsetEnv?.length ? ` Timed as on a user's machine, without ${m.unsetEnv.join(', ')} (this machine's package-proxy setting, which slows every Node start; bench/user-env.ts).` : ''} Each timed deploy starts on a quiet machine (bench/settle.ts).`, '');
  out.push(`The goal (issue #12) is one point: with ${GOAL_SERVICES} services on the server and an app of ${GOAL_FILES.toLocaleString('en-US')} files, a nothing-changed deploy and a one-line back-end deploy each stay within ${SCALE_GOAL}× of their time with 1 service and the course-sized app (the baseline, measured first and again at the end; every ratio is against the faster of the two). The other rows are the curve the issue asks to report (services with the course-sized app; files with 1 service): measured, with no goal.`, '');
  out.push(...pointRows(points));
  out.push('', '## Goals', '', '| point | goal | measured | met |', '|---|---|---|---|');
  for (const g of goals) out.push(`| ${g.scenario} | ${g.goal} | ${g.measured} | ${g.met ? 'yes' : '**no**'} |`);
  if (traced) {
    const p = points.find((x) => x.role === 'combined');
    out.push('', `## Where a nothing-changed deploy at the goal point spends its time`, '', `${p ? `${p.registered} services registered, ${p.files} extra files; ` : ''}${traced.runs} traced runs (bench/deploy-trace.js), medians per phase.`, '');
    out.push(...breakdownMarkdown(traced));
  }
  return out.join('\n') + '\n';
}
