/** The benchmark's outputs: the results table (Markdown), the raw figures (JSON), and the picture (SVG). */
import type { Breakdown } from './breakdown';
import type { LoadSummary, Sample } from './load';

/** `portside` is Portside as users type it (npm run deploy-service); `bare` is `node bin/portside.js`. */
export type Flow = 'scp' | 'portside' | 'bare';
export const FLOW_LABEL: Record<Flow, string> = { scp: "course's scp flow", portside: 'Portside', bare: 'Portside, bare CLI' };

/** `steps`: the median of each of Portside's steps (ms) over the deploys that reported it (absent for the scp flow). */
type FlowStats = { ms: Stat; bytes: Stat; buildMs: Stat; addedMs: Stat; notes: string[]; steps?: Record<string, number> };

export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly values: readonly number[];
}

export function stat(values: readonly number[]): Stat {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: s.length ? mid : 0, min: s[0] ?? 0, max: s[s.length - 1] ?? 0, values };
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** The bare CLI is timed in some scenarios only. */
  readonly flows: Record<'scp' | 'portside', FlowStats> & { bare?: FlowStats };
}

export interface LoadResult {
  readonly flow: Flow;
  readonly redeploys: number;
  readonly deploys: Array<{ start: number; end: number; ms: number }>;
  readonly summary: LoadSummary;
  readonly startedAt: number;
  readonly samples: readonly Sample[];
}

export interface Goal {
  readonly scenario: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
}

export interface BenchResult {
  readonly date: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly machine: Record<string, string>;
  readonly app: Record<string, string>;
  readonly options: Record<string, unknown>;
  readonly scenarios: ScenarioResult[];
  readonly load: LoadResult[];
  readonly websocket: Array<{ flow: Flow; stayedOpen: boolean; messagesDuring: number; messagesAfter: number; closed: string | null; caddyfileUnchanged: boolean }>;
  readonly latency: { count: number; direct: { p50: number; p99: number }; caddy: { p50: number; p99: number }; overheadP50: number; overheadP99: number; tlsRetries: number } | null;
  readonly frontDoor: Record<'before' | 'after', { listeners443: number; handshakes: number; refused: number }>;
  readonly goals: Goal[];
  /** Where a nothing-changed deploy's time goes; null when not measured. */
  readonly breakdown: Breakdown | null;
  /** The kept SSH connection during the timed deploys (lib/ssh/keeper): its setting, and how many deploys were handed its standby agent. Absent in results from before it. */
  readonly keptConnection?: { setting: string; standbyHandovers: number };
  /** Redeploys through npm run with PORTSIDE_SSH_PERSIST=0 (no kept connection), each one's ms; absent when not measured. */
  readonly unkept?: { unchanged: number[]; backend: number[] };
  /** The first deploy of a new service, each flow's (one each). */
  /** Medians of the cold deploys (`values`: each one's ms; absent in results from before they were repeated). */
  readonly cold: { portside: { ms: number; buildMs: number; note: string; values?: number[] }; scp: { ms: number; buildMs: number; values?: number[] } };
  /** The waits for a quiet machine before each timed command (bench/settle.ts), ms; absent in results from before them. */
  readonly settled?: { count: number; median: number; max: number };
  /** The variables of this machine's environment the timed commands ran without (bench/user-env.ts); absent in results from before. */
  readonly unsetEnv?: readonly string[];
}

const s1 = (ms: number): string => (ms / 1000).toFixed(2);
const range = (st: Stat, f: (n: number) => string): string => `${f(st.median)} (${f(st.min)}–${f(st.max)})`;
export const kB = (b: number): string => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(2)} MB` : b >= 1024 ? `${(b / 1024).toFixed(1)} kB` : `${b} B`);

/** The results as the Markdown page beside the JSON: one section after another, in reading order. */
export function markdown(r: BenchResult, svgName: string): string {
  return [
    ...introMd(r),
    ...goalsMd(r),
    ...redeployTimesMd(r),
    ...frontEndMd(r),
    ...breakdownSectionMd(r),
    ...loadMd(r),
    ...frontDoorMd(r, svgName),
    ...websocketMd(r),
    ...latencyMd(r),
    ...machineMd(r),
    ...repetitionsMd(r),
  ].join('\n') + '\n';
}

/** The cool-down before each timed command, so that no flow pays for the work the previous command left running. */
function settledMd(r: BenchResult): string[] {
  const env = r.unsetEnv?.length
    ? [`Both flows were timed in a user's environment: this machine sets ${r.unsetEnv.join(', ')} for its package proxy, which Node 20 reads as every process starts (\`node -e 0\` 63 ms with it, 25 ms without, here; bench/user-env.ts), and a user's machine does not; the timed commands ran without it (\`--keep-env\` keeps it).`, '']
    : [];
  if (!r.settled) return env;
  return [...env, `Each timed command of either flow started on a quiet machine (bench/settle.ts: at least 90 % of both cores idle over 100 ms; the course's flow returns while its service still boots, Portside's while an old worker drains), so neither flow pays for the other's leftovers: ${r.settled.count} waits, median ${Math.round(r.settled.median)} ms, longest ${Math.round(r.settled.max)} ms.`, ''];
}

function introMd(r: BenchResult): string[] {
  return [
    `# Benchmark: Portside vs the course's scp deploy — ${r.date}`, '',
    `One run of \`npm run bench\`, started ${r.startedAt}, ${Math.round(r.durationS)} s. Both flows deploy the same generated app to the same local stand-in server (network namespace, real sshd, Caddy, pm2), interleaved, ${r.options.reps} repetitions each; times are wall-clock for the whole command, medians with (min–max). Portside is timed as users type it, \`npm run deploy-service <name> <port> -- --target local --dir …\` from the repository (npm's launcher included), and as the bare CLI, \`node bin/portside.js deploy-service …\`, beside it.`, '',
    ...settledMd(r),
    ...keptMd(r),
  ];
}

/** Whether the timed redeploys had the kept SSH connection (lib/ssh/keeper), and the figures without it. */
function keptMd(r: BenchResult): string[] {
  if (!r.keptConnection) return [];
  const k = r.keptConnection;
  const warm = k.setting === 'off'
    ? 'The kept SSH connection was off (PORTSIDE_SSH_PERSIST=0 or CI): every timed redeploy connected and started the agent itself.'
    : `The kept SSH connection was ${k.setting}: the first deploy left a keeper behind, so the timed redeploys found it warm (connected, a standby agent started; ${k.standbyHandovers} agent commands were handed a standby).`;
  const unkept = r.unkept ? ` The Goals table also gives the redeploys made without it (PORTSIDE_SSH_PERSIST=0), as a user's first command after the idle limit runs: ${r.unkept.unchanged.length} of each.` : '';
  return [warm + unkept, ''];
}

function goalsMd(r: BenchResult): string[] {
  return [
    '## Goals', '', '| scenario | goal | measured | met |', '|---|---|---|---|',
    ...r.goals.map((g) => `| ${g.scenario} | ${g.goal} | ${g.measured} | ${g.met ? 'yes' : '**no**'} |`),
  ];
}

/** How many cold deploys the figures are made of, with each one's time. */
function coldCount(r: BenchResult): string {
  const { portside, scp } = r.cold;
  if (!portside.values || portside.values.length < 2) return 'one each.';
  const list = (v: readonly number[]): string => v.map((ms) => s1(ms)).join(', ');
  return `medians of ${portside.values.length} each (both services removed in between, the order alternating): Portside ${list(portside.values)} s; the course's ${list(scp.values ?? [])} s.`;
}

function redeployTimesMd(r: BenchResult): string[] {
  return [
    '', '## Redeploy times', '', '| scenario | scp flow: s | Portside (npm run): s | speed-up | bare CLI: s | speed-up | npm launcher | scp bytes | Portside bytes | bytes ratio |', '|---|---|---|---|---|---|---|---|---|---|',
    ...r.scenarios.map(redeployRowMd),
    '', 'npm launcher: the npm-run median minus the bare CLI\'s (different deploys of the same kind, so a difference of medians, not a per-deploy figure). The bare CLI is not timed when a dependency is added (each timing installs another package).',
    '', `First (cold) deploy of a new service: Portside ${s1(r.cold.portside.ms)} s (its build ${s1(r.cold.portside.buildMs)} s, npm run), the course's flow ${s1(r.cold.scp.ms)} s (its build ${s1(r.cold.scp.buildMs)} s); ${coldCount(r)}`,
  ];
}

/** One scenario's row: each flow's time, the speed-ups over the scp flow, the bytes each sent. */
function redeployRowMd(sc: ScenarioResult): string {
  const a = sc.flows.scp;
  const b = sc.flows.portside;
  const c = sc.flows.bare;
  const ratio = (x: Stat): string => (x.median ? `${(a.ms.median / x.median).toFixed(1)}×` : '-');
  const bytesRatio = a.bytes.median ? `${((b.bytes.median / a.bytes.median) * 100).toFixed(2)} %` : '-';
  const bare = c ? `${range(c.ms, s1)} | ${ratio(c.ms)} | +${s1(b.ms.median - c.ms.median)} s` : '- | - | -';
  return `| ${sc.title} | ${range(a.ms, s1)} | ${range(b.ms, s1)} | ${ratio(b.ms)} | ${bare} | ${kB(a.bytes.median)} | ${kB(b.bytes.median)} | ${bytesRatio} |`;
}

/** The front-end scenario's build time apart from the rest, and Portside's steps in it. */
function frontEndMd(r: BenchResult): string[] {
  const fe = r.scenarios.find((s) => s.id === 'frontend');
  if (!fe) return [];
  const out = ['', `Front end changed by one word: the build itself took ${range(fe.flows.scp.buildMs, s1)} s in the scp flow and ${range(fe.flows.portside.buildMs, s1)} s in Portside's; everything else added ${range(fe.flows.scp.addedMs, s1)} s (scp) and ${range(fe.flows.portside.addedMs, s1)} s (Portside).`];
  const steps = Object.entries(fe.flows.portside.steps ?? {});
  if (steps.length) out.push('', `Portside's steps in that deploy (medians; the build runs while the CLI connects, so they overlap the connection, not each other's): ${steps.map(([k, v]) => `${k} ${v} ms`).join(', ')}; its summary's total counts from the CLI's start, after npm's launcher and Node's start-up.`);
  return out;
}

function breakdownSectionMd(r: BenchResult): string[] {
  if (!r.breakdown) return [];
  return [
    '', "## Where a nothing-changed deploy's time goes", '', `${r.breakdown.runs} traced runs of \`npm run deploy-service\` that changed nothing (bench/deploy-trace.js preloaded: it marks the CLI's moments from its process start; \`node -e 0\` timed apart), without the kept connection (PORTSIDE_SSH_PERSIST=0: each run connects and starts the agent, as the first command after the idle limit does). Medians per phase.`, '',
    ...breakdownMarkdown(r.breakdown),
  ];
}

function loadMd(r: BenchResult): string[] {
  return [
    '', '## Redeploys under load', '', `${r.load[0]?.redeploys ?? 0} consecutive redeploys (a back-end line changed each time) while a bounded client on this machine sends a steady stream of GET /, GET /api/scores and POST /api/score (JSON) through Caddy (HTTPS, keep-alive).`, '',
    '| flow | requests | rate | failed (GET / POST) | TLS handshakes refused | slower than 2 s | longest failure gap | p50 / p99 / max latency | outcomes |', '|---|---|---|---|---|---|---|---|---|',
    ...r.load.map(loadRowMd),
  ];
}

function loadRowMd(l: LoadResult): string {
  const s = l.summary;
  const get = l.samples.filter((x) => !x.ok && !x.tls && x.method === 'GET').length;
  return `| ${FLOW_LABEL[l.flow]} | ${s.requests} | ${s.rate.toFixed(1)}/s | ${s.failedHttp} (${get} / ${s.failedHttp - get}) | ${s.failedTls} | ${s.slow} | ${s.longestGapMs.toFixed(0)} ms | ${s.p50.toFixed(1)} / ${s.p99.toFixed(1)} / ${s.maxMs.toFixed(0)} ms | ${Object.entries(s.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')} |`;
}

/** Caddy's TLS front door before and after the run, and the picture of the load. */
function frontDoorMd(r: BenchResult, svgName: string): string[] {
  const fd = r.frontDoor;
  return [
    '', `Caddy's front door (fresh TLS handshakes to the stand-in, no deploy involved): before the run ${fd.before.listeners443} listening socket(s) on :443 and ${fd.before.refused} of ${fd.before.handshakes} handshakes refused; after it ${fd.after.listeners443} and ${fd.after.refused} of ${fd.after.handshakes}.`
      + (fd.before.refused || fd.after.refused ? ' Refused handshakes (`internal_error` alerts) come from listeners that Caddy 2.6.2 leaks when a reload fails (someone\'s Caddyfile listened on a port in use): every handshake that lands on a leaked listener fails until Caddy restarts. They are counted apart from the deploy failures above; a deploy that does not change routes never touches Caddy.' : '')
      + ' The longest gap counts only HTTP-level failures and resets.',
    '', `![Request outcomes during a redeploy](${svgName})`, '',
  ];
}

function websocketMd(r: BenchResult): string[] {
  const out = [
    '## A WebSocket to another service during a redeploy', '', '| flow redeployed | stayed open | messages during / after | Caddyfile untouched |', '|---|---|---|---|',
    ...r.websocket.map((w) => `| ${FLOW_LABEL[w.flow]} | ${w.stayedOpen ? 'yes' : `no (${w.closed})`} | ${w.messagesDuring} / ${w.messagesAfter} | ${w.caddyfileUnchanged ? 'yes' : 'no'} |`),
  ];
  if (r.websocket.some((w) => !w.caddyfileUnchanged)) {
    out.push('', 'A "no" in the last column: the Caddyfile changed while that flow redeployed. Neither flow changes routes here, so it was another user of the shared stand-in; Caddy closes every proxied WebSocket when it reloads.');
  }
  return out;
}

function latencyMd(r: BenchResult): string[] {
  const l = r.latency;
  if (!l) return [];
  const out = [
    '', '## Caddy in front of a service vs the service directly', '', `${l.count} sequential keep-alive GET /api/scores each, from inside the server's namespace, in alternating blocks.`, '',
    '| path | p50 | p99 |', '|---|---|---|',
    `| direct (http://127.0.0.1:port) | ${l.direct.p50.toFixed(2)} ms | ${l.direct.p99.toFixed(2)} ms |`,
    `| through Caddy (https, SNI) | ${l.caddy.p50.toFixed(2)} ms | ${l.caddy.p99.toFixed(2)} ms |`,
    `| overhead | ${l.overheadP50.toFixed(2)} ms | ${l.overheadP99.toFixed(2)} ms |`,
  ];
  if (l.tlsRetries) out.push('', `(${l.tlsRetries} TLS handshakes refused by Caddy's front door were retried before timing.)`);
  return out;
}

function machineMd(r: BenchResult): string[] {
  return [
    '', '## The machine and the app', '',
    ...Object.entries(r.machine).map(([k, v]) => `- ${k}: ${v}`),
    ...Object.entries(r.app).map(([k, v]) => `- ${k}: ${v}`),
  ];
}

function repetitionsMd(r: BenchResult): string[] {
  return [
    '', '## Every repetition', '',
    ...r.scenarios.map((sc) => {
      const bare = sc.flows.bare ? `; bare CLI ${sc.flows.bare.ms.values.map(s1).join(', ')} s` : '';
      return `- ${sc.title}: scp ${sc.flows.scp.ms.values.map(s1).join(', ')} s; Portside (npm run) ${sc.flows.portside.ms.values.map(s1).join(', ')} s${bare}`;
    }),
  ];
}

/** The picture's geometry: its width, each panel's height and the plot's margins (px). */
const SVG = { W: 900, panelH: 230, left: 70, right: 20, top: 50 } as const;
type Panel = ReturnType<typeof panel>;

/** Request outcomes over time around the worst redeploy of each flow (most failures; ties: the first). */
export function svg(r: BenchResult): string {
  const { W, panelH, top } = SVG;
  const panels = r.load.map((l) => panel(l));
  const H = top + panels.length * (panelH + 60) + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Requests during a redeploy under load (${r.date})</text>`,
    `<text x="${W / 2}" y="42" text-anchor="middle" fill="#555">each dot is one request: when it started (x), how long it took (y, log scale); green answered, red failed, orange TLS handshake refused by Caddy; grey band: the deploy command running</text>`,
    ...panels.flatMap((p, i) => panelSvg(p, top + i * (panelH + 60) + 20)),
    '</svg>',
  ].join('\n') + '\n';
}

/** One flow's panel, its top at `y0`: the deploy's band, the axes, the 2 s line, one dot per request. */
function panelSvg(p: Panel, y0: number): string[] {
  const { W, panelH, left, right } = SVG;
  const plotW = W - left - right;
  const x = (t: number): number => left + ((t - p.from) / (p.to - p.from)) * plotW;
  const y = logScale(y0, panelH);
  return [
    `<text x="${left}" y="${y0 - 8}" font-size="14" font-weight="bold">${esc(p.title)}</text>`,
    `<rect x="${x(p.deployStart)}" y="${y0}" width="${Math.max(1, x(p.deployEnd) - x(p.deployStart))}" height="${panelH}" fill="#e6e6e6"/>`,
    `<rect x="${left}" y="${y0}" width="${plotW}" height="${panelH}" fill="none" stroke="#999"/>`,
    ...yAxisSvg(y, plotW),
    ...xAxisSvg(p, x, y0 + panelH),
    `<line x1="${left}" x2="${left + plotW}" y1="${y(2000)}" y2="${y(2000)}" stroke="#d08000" stroke-dasharray="4 3"/>`,
    `<text x="${left + plotW - 4}" y="${y(2000) - 4}" text-anchor="end" fill="#d08000">2 s</text>`,
    ...p.samples.map((s) => `<circle cx="${x(s.t).toFixed(1)}" cy="${y(s.ms).toFixed(1)}" r="2.2" fill="${s.ok ? '#2a9d3a' : s.tls ? '#f4a261' : '#d62828'}" fill-opacity="0.75"><title>${s.method} ${esc(s.path)} ${s.status || s.error} ${s.ms.toFixed(1)} ms</title></circle>`),
    `<text x="${left + plotW / 2}" y="${y0 + panelH + 34}" text-anchor="middle" fill="#333">seconds since this redeploy started — ${esc(p.caption)}</text>`,
  ];
}

/** ms → y in a panel whose top is `y0`: log scale from 1 ms (bottom) to 10 s (top), clamped. */
function logScale(y0: number, panelH: number): (ms: number) => number {
  const yMin = 1;
  const yMax = 10000;
  return (ms) => y0 + panelH - ((Math.log10(Math.min(yMax, Math.max(yMin, ms))) - 0) / 4) * panelH;
}

function yAxisSvg(y: (ms: number) => number, plotW: number): string[] {
  const { left } = SVG;
  return [1, 10, 100, 1000, 10000].flatMap((v) => [
    `<line x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
    `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`,
  ]);
}

/** Ticks every nice step of seconds along the bottom edge (`bottom`). */
function xAxisSvg(p: Panel, x: (t: number) => number, bottom: number): string[] {
  const out: string[] = [];
  const step = niceStep((p.to - p.from) / 1000);
  for (let t = Math.ceil(p.from / 1000 / step) * step; t * 1000 <= p.to; t += step) {
    out.push(`<line x1="${x(t * 1000)}" x2="${x(t * 1000)}" y1="${bottom}" y2="${bottom + 4}" stroke="#555"/>`);
    out.push(`<text x="${x(t * 1000)}" y="${bottom + 16}" text-anchor="middle" fill="#555">${+t.toFixed(1)} s</text>`);
  }
  return out;
}

function panel(l: LoadResult): { title: string; caption: string; from: number; to: number; deployStart: number; deployEnd: number; samples: Sample[] } {
  // Deploy times are wall-clock; samples are relative to the load's start.
  const rel = l.deploys.map((d) => ({ start: d.start - l.startedAt, end: d.end - l.startedAt }));
  const failuresIn = (d: { start: number; end: number }): number => l.samples.filter((s) => !s.ok && !s.tls && s.t >= d.start - 500 && s.t <= d.end + 2000).length;
  let worst = 0;
  rel.forEach((d, i) => {
    if (failuresIn(d) > failuresIn(rel[worst])) worst = i;
  });
  const d = rel[worst] ?? { start: 0, end: 0 };
  const from = d.start - 1000;
  const to = d.end + 2000;
  const samples = l.samples.filter((s) => s.t >= from && s.t <= to).map((s) => ({ ...s, t: s.t - d.start }));
  const failed = samples.filter((s) => !s.ok && !s.tls).length;
  return {
    title: `${FLOW_LABEL[l.flow]}: redeploy ${worst + 1} of ${l.redeploys} (${failed} failed of ${samples.length} shown; all ${l.redeploys}: ${l.summary.failedHttp} failed of ${l.summary.requests})`,
    caption: `the deploy command ran ${((d.end - d.start) / 1000).toFixed(2)} s`,
    from: from - d.start, to: to - d.start, deployStart: 0, deployEnd: d.end - d.start, samples,
  };
}

function niceStep(span: number): number {
  for (const s of [0.5, 1, 2, 5, 10, 20, 30]) if (span / s <= 12) return s;
  return 60;
}

function esc(t: string): string {
  return t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The breakdown as a Markdown table. */
export function breakdownMarkdown(b: Breakdown): string[] {
  const sum = b.phases.reduce((n, p) => n + p.ms, 0);
  return [
    '| phase | median ms | share |', '|---|---|---|',
    ...b.phases.map((p) => `| ${p.name} | ${p.ms.toFixed(0)} | ${((p.ms / sum) * 100).toFixed(0)} % |`),
    `| sum of the phases' medians (the median run took ${b.totalMs.toFixed(0)} ms) | ${sum.toFixed(0)} | |`,
  ];
}
