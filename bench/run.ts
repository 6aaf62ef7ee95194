/**
 * `npm run bench`: Portside's deploy against our re-creation of the course's scp deploy, on the same
 * generated app and the same local stand-in server, in one run, interleaved. Portside is timed as users
 * type it (`npm run deploy-service <name> <port> -- …`, npm's launcher included) and, beside it, as the
 * bare CLI (`node bin/portside.js …`), so the launcher's share shows. Writes
 * bench/results/<date>.md, .json and .svg. Options (also for the smoke test, which runs it tiny):
 *   --reps N            repetitions of each timed scenario (default 3)
 *   --load-redeploys N  redeploys under load per flow (default 10)
 *   --rate N            requests per second of the load (default 60)
 *   --latency N         requests each for the Caddy vs direct comparison (default 2000; 0 skips)
 *   --fake              no npm, no Vite: a dependency-free app with a copying build (smoke test)
 *   --prefix NAME       service names' prefix (default bench)
 *   --port-base N       ports of the three services: N, N+1, N+2 (default 4800)
 *   --out DIR           where results go (default bench/results)
 *   --label TEXT        name the files <date>-<TEXT>.* (a second run on the same day; default: <date>.*)
 *   --bare-only-unchanged  time the bare CLI only when nothing changed (the smoke test; default: also
 *                       a back-end line and a front-end word)
 *   --scale             instead: how deploy times grow with services on the server and files in the
 *                       app (bench/scale.ts), on ports from --port-base + 50; writes bench/results/<date>-scale.{md,json}
 *   --breakdown N       traced nothing-changed deploys for the time breakdown (default 5; 0 skips it)
 *   --keep-env          time with this machine's environment as it is (default: without the variables
 *                       a user's machine does not have and that slow every Node start; bench/user-env.ts)
 *   --help, -h          print this
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { changeBackEnd, installApp, writeApp } from './app';
import { DeployResult, standIn, knownHostsFor, portsideDeploy, portsideRemove, REPO, runTimed, scpDeploy, setupScpService, ssh, StandIn, WORK } from './flows';
import { Breakdown, breakdown } from './breakdown';
import { benchGoals } from './goals';
import { quantile, startLoad, summarize, tlsHandshakes } from './load';
import { BenchResult, Flow, LoadResult, markdown, stat, svg } from './report';
import { runScale } from './scale';
import { Deployers, runScenarios } from './scenarios';
import { settle, settleWaits } from './settle';
import { asOnAUsersMachine } from './user-env';
import { openWs, writeWsService } from './ws';
import { keepersDir } from '../lib/ssh/keeper/identity';
import { persistIdleMs } from '../lib/ssh/keeper/setting';
import { portsideHome } from '../lib/ssh/paths';

export interface BenchOptions {
  reps: number;
  loadRedeploys: number;
  rate: number;
  latency: number;
  fake: boolean;
  prefix: string;
  /** The services' ports: portBase (Portside), +1 (scp flow), +2 (WebSocket service). */
  portBase: number;
  out: string;
  /** The results' files are <date>-<label>.*; @default - <date>.* */
  label?: string;
  /** Traced nothing-changed deploys for the time breakdown (0 skips it). @default 5 */
  breakdownRuns?: number;
  /** Which scenarios also time the bare CLI. @default 'all' (nothing changed, a back-end line, a front-end word) */
  bareScenarios?: 'all' | 'unchanged';
  /** The variables of this machine's environment the timed commands ran without (bench/user-env.ts). @default [] */
  unsetEnv?: readonly string[];
  log: (line: string) => void;
}

/** What every part of a run needs: the options, the stand-in, its pinned key and CA, the names and folders. */
interface Bench {
  readonly o: BenchOptions;
  readonly log: (line: string) => void;
  readonly server: StandIn;
  readonly knownHosts: string;
  readonly ca: Buffer;
  readonly names: { readonly portside: string; readonly scp: string; readonly ws: string };
  readonly app: string;
  readonly wsDir: string;
}

type FrontDoor = BenchResult['frontDoor']['before'];
type FirstDeploys = { first: DeployResult; portside: DeployResult[]; scp: DeployResult[] };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function version(cmd: string, args: string[], netns = false): string {
  try {
    const argv = netns ? ['netns', 'exec', 'portside', cmd, ...args] : args;
    return execFileSync(netns ? 'ip' : cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
  } catch {
    return 'unknown';
  }
}

/** Run the whole benchmark; write bench/results/<date>.{md,json,svg}. */
export async function runBench(o: BenchOptions): Promise<{ result: BenchResult; files: string[] }> {
  const t0 = Date.now();
  const startedAt = new Date();
  const b = await setUp(o);
  const doorBefore = await frontDoor(b);
  b.log(`Caddy's front door: ${doorBefore.listeners443} listening sockets on :443; ${doorBefore.refused} of ${doorBefore.handshakes} fresh TLS handshakes refused`);
  await prepareApps(b);
  await cleanSlate(b);
  const { first, portside: coldPortside, scp: coldScp } = await firstDeploys(b);
  const deployers = makeDeployers(b);
  const scenarios = await runScenarios(deployers, { app: b.app, reps: o.reps, fake: o.fake, bareScenarios: o.bareScenarios, log: b.log });
  const keptConnection = keptConnectionOf(startedAt);
  const unkept = await unkeptRedeploys(b);
  const timeBreakdown = await timeBreakdownOf(b);
  const websocket = await websocketCheck(b, deployers);
  const load: LoadResult[] = [];
  for (const flow of ['scp', 'portside'] as Flow[]) load.push(await underLoad(b, deployers, flow));
  const latency = await caddyVsDirect(b, first);
  const doorAfter = await frontDoor(b);
  b.log(`Caddy's front door at the end: ${doorAfter.listeners443} listening sockets on :443; ${doorAfter.refused} of ${doorAfter.handshakes} fresh TLS handshakes refused`);
  const cold: BenchResult['cold'] = {
    portside: { ms: stat(coldPortside.map((r) => r.ms)).median, buildMs: stat(coldPortside.map((r) => r.buildMs)).median, note: first.note, values: coldPortside.map((r) => r.ms) },
    scp: { ms: stat(coldScp.map((r) => r.ms)).median, buildMs: stat(coldScp.map((r) => r.buildMs)).median, values: coldScp.map((r) => r.ms) },
  };
  const goals = benchGoals({ scenarios, load, websocket, latency, cold, loadRedeploys: o.loadRedeploys, keptConnection, unkept });
  const date = startedAt.toISOString().slice(0, 10);
  const result: BenchResult = {
    date, startedAt: startedAt.toISOString(), durationS: (Date.now() - t0) / 1000,
    machine: machineInfo(), app: appInfo(b),
    options: { reps: o.reps, loadRedeploys: o.loadRedeploys, rate: o.rate, latency: o.latency, fake: o.fake },
    scenarios, load, websocket, latency, goals, frontDoor: { before: doorBefore, after: doorAfter },
    breakdown: timeBreakdown, cold, keptConnection, unkept,
    unsetEnv: o.unsetEnv ?? [],
    settled: settleWaits.length ? { count: settleWaits.length, median: stat(settleWaits).median, max: Math.max(...settleWaits) } : undefined,
  };
  return { result, files: writeResults(result, o.out, o.label ? `${date}-${o.label}` : date) };
}

/** The stand-in (brought up if needed), its pinned host key and CA, the services' names and the app's folders. */
async function setUp(o: BenchOptions): Promise<Bench> {
  const server = await standIn(o.log);
  mkdirSync(WORK, { recursive: true });
  return {
    o, log: o.log, server, knownHosts: knownHostsFor(server), ca: readFileSync(server.caCertPath),
    names: { portside: `${o.prefix}-portside`, scp: `${o.prefix}-scp`, ws: `${o.prefix}-ws` },
    app: join(WORK, o.fake ? `${o.prefix}-app-fake` : `${o.prefix}-app`),
    wsDir: join(WORK, `${o.prefix}-ws`),
  };
}

const hostOf = (b: Bench, name: string): string => `${name}.${b.server.domain}`;

/** Caddy's TLS front door: listening sockets on :443 and fresh handshakes refused (see tlsHandshakes). */
async function frontDoor(b: Bench): Promise<FrontDoor> {
  const ss = await runTimed('ip', ['netns', 'exec', 'portside', 'ss', '-Hltn', 'sport = :443'], { allowFail: true });
  const hs = await tlsHandshakes(b.server.address, hostOf(b, b.names.portside), b.ca, 200);
  return { listeners443: ss.out.trim().split('\n').filter(Boolean).length, handshakes: hs.ok + hs.failed, refused: hs.failed };
}

/** Generate (and install and build) the app, and write the WebSocket service. */
async function prepareApps(b: Bench): Promise<void> {
  b.log(`generating the app in ${b.app}`);
  writeApp(b.app, { fake: b.o.fake });
  if (!b.o.fake) installApp(b.app, b.log);
  await runTimed('npm', ['run', 'build'], { cwd: b.app });
  writeWsService(b.wsDir);
}

/** Remove what an earlier run left on the server. */
async function cleanSlate(b: Bench, names: readonly string[] = Object.values(b.names)): Promise<void> {
  b.log(`removing ${names.join(', ')} from the server`);
  for (const n of names) await portsideRemove(n);
  const scp = b.names.scp;
  await ssh(b.server, b.knownHosts, `pm2 delete ${scp} >/dev/null 2>&1; rm -rf course/${scp}; pm2 save --force >/dev/null; echo ok\n`);
}

/**
 * The first deploys: Portside's is timed as a cold one (a new service on the server, and no record of
 * an earlier local build; the course's first deploy builds too), npm's launcher included, as for every
 * timed Portside deploy; then the course's own first deploy. Repeated `reps` times (both services
 * removed in between, the order alternating, so neither flow always runs on the other's warm-up) and
 * reported as medians; then the WebSocket service (not timed).
 */
async function firstDeploys(b: Bench): Promise<FirstDeploys> {
  const { names, o, log } = b;
  const portside: DeployResult[] = [];
  const scp: DeployResult[] = [];
  for (let i = 0; i < Math.max(1, o.reps); i++) {
    if (i > 0) await cleanSlate(b, [names.portside, names.scp]);
    const coldPortside = async (): Promise<void> => {
      rmSync(join(b.app, 'node_modules', '.cache', 'portside'), { recursive: true, force: true });
      log(`first (cold) deploy of ${names.portside} with Portside (${i + 1} of ${o.reps})`);
      await settle();
      portside.push(await portsideDeploy(b.app, names.portside, [String(o.portBase)], 'npm'));
      log(`  ${portside[i].note} (${(portside[i].ms / 1000).toFixed(2)} s)`);
    };
    const coldScp = async (): Promise<void> => {
      log(`setting up ${names.scp} the course's way (${i + 1} of ${o.reps})`);
      scp.push(await setupScpService(b.app, names.scp, o.portBase + 1, b.server, b.knownHosts, log));
      log(`  the course's first deploy: ${(scp[i].ms / 1000).toFixed(2)} s`);
    };
    if (i % 2 === 0) {
      await coldPortside();
      await coldScp();
    } else {
      await coldScp();
      await coldPortside();
    }
  }
  log(`first deploy of ${names.ws} (a WebSocket service) with Portside`);
  await portsideDeploy(b.wsDir, names.ws, [String(o.portBase + 2)]);
  return { first: portside[portside.length - 1], portside, scp };
}

/**
 * Each flow's redeploy of the app. The stand-in is shared: when a deploy fails because the connection
 * broke (someone repaired the server, say), it is run once more and the failure logged; a second
 * failure ends the bench.
 */
function makeDeployers(b: Bench): Deployers {
  const retried = (flow: Flow, fn: () => Promise<DeployResult>) => async (): Promise<DeployResult> => {
    try {
      return await fn();
    } catch (e) {
      b.log(`  ${flow} deploy failed, trying once more: ${(e as Error).message.split('\n').slice(0, 2).join(' ')}`);
      await sleep(2000);
      return fn();
    }
  };
  const port = [String(b.o.portBase)];
  return {
    scp: retried('scp', () => scpDeploy(b.app, b.names.scp, b.server, b.knownHosts)),
    portside: retried('portside', () => portsideDeploy(b.app, b.names.portside, port, 'npm')),
    bare: retried('bare', () => portsideDeploy(b.app, b.names.portside, port, 'node')),
  };
}

/**
 * The kept SSH connection as the timed deploys had it (lib/ssh/keeper): its setting in this process's
 * environment, and how many agent commands its keepers handed a standby agent (their logs say so).
 */
function keptConnectionOf(since: Date): NonNullable<BenchResult['keptConnection']> {
  const idle = persistIdleMs(process.env);
  const dir = keepersDir(portsideHome());
  let handovers = 0;
  try {
    // Only this run's lines: a log of an earlier keeper (another identity) may still be in the folder.
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.log'))) {
      handovers += readFileSync(join(dir, f), 'utf8').split('\n')
        .filter((l) => l.endsWith(': handed the standby agent') && new Date(l.slice(0, 24)) >= since).length;
    }
  } catch {
    // no keeper ever ran
  }
  return { setting: idle === null ? 'off' : `on, ${Math.round(idle / 1000)} s idle limit`, standbyHandovers: handovers };
}

/**
 * The redeploys users get when no kept connection is there (their first command after its idle
 * limit, or with PORTSIDE_SSH_PERSIST=0): nothing changed, then one back-end line, `reps` times each.
 */
async function unkeptRedeploys(b: Bench): Promise<NonNullable<BenchResult['unkept']>> {
  const env = { PORTSIDE_SSH_PERSIST: '0' };
  const port = [String(b.o.portBase)];
  const unkept: NonNullable<BenchResult['unkept']> = { unchanged: [], backend: [] };
  for (let rep = 0; rep < b.o.reps; rep++) {
    await settle();
    unkept.unchanged.push((await portsideDeploy(b.app, b.names.portside, port, 'npm', { env })).ms);
    changeBackEnd(b.app, `unkept-${rep}-${Date.now()}`);
    await settle();
    unkept.backend.push((await portsideDeploy(b.app, b.names.portside, port, 'npm', { env })).ms);
    b.log(`rep ${rep + 1}/${b.o.reps} without the kept connection: nothing changed ${(unkept.unchanged[rep] / 1000).toFixed(2)} s, one back-end line ${(unkept.backend[rep] / 1000).toFixed(2)} s`);
  }
  return unkept;
}

/** Where a nothing-changed deploy's time goes (the service is at the app's current state); null when not asked for. */
async function timeBreakdownOf(b: Bench): Promise<Breakdown | null> {
  const runs = b.o.breakdownRuns ?? 5;
  if (runs <= 0) return null;
  const t = await breakdown(b.app, b.names.portside, b.o.portBase, runs);
  b.log(`nothing-changed breakdown (${t.runs} runs, median ${(t.totalMs / 1000).toFixed(2)} s): ${t.phases.map((p) => `${p.name.split(' (')[0]} ${p.ms.toFixed(0)} ms`).join('; ')}`);
  return t;
}

/** A WebSocket to another service stays open while each flow redeploys (and Caddy's file is untouched). */
async function websocketCheck(b: Bench, deployers: Deployers): Promise<BenchResult['websocket']> {
  const home = execFileSync('getent', ['passwd', b.server.user], { encoding: 'utf8' }).split(':')[5];
  const caddyfile = JSON.parse(readFileSync(join(home, '.portside', 'registry.json'), 'utf8')).paths.caddyfile as string;
  const websocket: BenchResult['websocket'] = [];
  for (const flow of ['scp', 'portside'] as Flow[]) {
    const ws = await retryOpen(() => openWs(b.server.address, hostOf(b, b.names.ws), b.ca), b.log);
    await sleep(500);
    const before = ws.received();
    const mtime = statSync(caddyfile).mtimeMs;
    changeBackEnd(b.app, `ws-${flow}-${Date.now()}`);
    await deployers[flow]();
    const during = ws.received() - before;
    await sleep(1000);
    const after = ws.received() - before - during;
    websocket.push({ flow, stayedOpen: ws.closed() === null && after > 0, messagesDuring: during, messagesAfter: after, closed: ws.closed(), caddyfileUnchanged: statSync(caddyfile).mtimeMs === mtime });
    ws.close();
    b.log(`websocket while ${flow} redeploys: ${websocket[websocket.length - 1].stayedOpen ? 'stayed open' : `closed (${ws.closed()})`}, ${during} + ${after} messages`);
  }
  return websocket;
}

/** Consecutive redeploys (a back-end line each) of one flow's service while a steady load runs through Caddy. */
async function underLoad(b: Bench, deployers: Deployers, flow: Flow): Promise<LoadResult> {
  const { o } = b;
  const maxMs = 2000 + o.loadRedeploys * 60_000;
  const run = startLoad({ address: b.server.address, host: hostOf(b, flow === 'scp' ? b.names.scp : b.names.portside), ca: b.ca, rate: o.rate, maxMs, maxRequests: Math.ceil((o.rate * maxMs) / 1000) });
  await sleep(1500);
  const deploys: LoadResult['deploys'] = [];
  for (let i = 0; i < o.loadRedeploys; i++) {
    changeBackEnd(b.app, `load-${flow}-${i}-${Date.now()}`);
    const r = await deployers[flow]();
    deploys.push({ start: r.start, end: r.end, ms: r.ms });
    await sleep(300);
  }
  await sleep(2000);
  const samples = await run.stop();
  const summary = summarize(samples);
  const result: LoadResult = { flow, redeploys: o.loadRedeploys, deploys, summary, startedAt: run.startedAt, samples };
  logLoad(b.log, result);
  return result;
}

/** The load's summary, and its first failures placed against the redeploys. */
function logLoad(log: (line: string) => void, l: LoadResult): void {
  const { summary, deploys, startedAt, flow } = l;
  log(`under load, ${flow}: ${summary.requests} requests at ${summary.rate.toFixed(1)}/s, ${summary.failed} failed (GET ${summary.failedGet}, POST ${summary.failedPost}), max ${summary.maxMs.toFixed(0)} ms, longest gap ${summary.longestGapMs.toFixed(0)} ms; ${JSON.stringify(summary.statuses)}`);
  for (const f of l.samples.filter((x) => !x.ok).slice(0, flow === 'portside' ? 20 : 3)) {
    const d = deploys.find((x) => x.start - startedAt <= f.t + 100 && x.end - startedAt >= f.t - 100);
    log(`  failed: ${f.method} ${f.path} at ${(f.t / 1000).toFixed(3)} s: ${f.status || f.error} after ${f.ms.toFixed(0)} ms${d ? ` (during redeploy ${deploys.indexOf(d) + 1})` : ' (between redeploys)'}`);
  }
}

/** Caddy in front of the service against the service directly, from inside the server's namespace; null when not asked for. */
async function caddyVsDirect(b: Bench, first: DeployResult): Promise<BenchResult['latency']> {
  const { o, log } = b;
  if (o.latency <= 0) return null;
  const port = Number(/on port (\d+)/.exec(first.note)?.[1] ?? 0);
  const args = ['netns', 'exec', 'portside', process.execPath, join(REPO, 'bench', 'latency-client.js'), String(port), hostOf(b, b.names.portside), b.server.caCertPath, String(o.latency)];
  // Someone else's route change can leave Caddy without this name's certificate for a moment: try again.
  let r = await runTimed('ip', args, { allowFail: true });
  for (let i = 0; i < 3 && r.code !== 0; i++) {
    log(`  latency client failed (${r.err.trim().split('\n')[0]}): trying again`);
    await sleep(3000);
    r = await runTimed('ip', args, { allowFail: true });
  }
  if (r.code !== 0) throw new Error(`the latency client failed: ${r.err}`);
  const { direct, caddy, tlsRetries } = JSON.parse(r.out) as { direct: number[]; caddy: number[]; tlsRetries: number };
  const q = (xs: number[], p: number): number => quantile([...xs].sort((a, c) => a - c), p);
  const latency = {
    count: o.latency,
    direct: { p50: q(direct, 0.5), p99: q(direct, 0.99) },
    caddy: { p50: q(caddy, 0.5), p99: q(caddy, 0.99) },
    overheadP50: q(caddy, 0.5) - q(direct, 0.5),
    overheadP99: q(caddy, 0.99) - q(direct, 0.99),
    tlsRetries,
  };
  log(`latency: direct p50 ${latency.direct.p50.toFixed(2)} ms, via Caddy p50 ${latency.caddy.p50.toFixed(2)} ms`);
  return latency;
}

function machineInfo(): BenchResult['machine'] {
  return {
    cpus: `${cpus().length} (${cpus()[0]?.model ?? 'unknown'})`,
    nproc: version('nproc', []),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    'load average at the end (1/5/15 min)': loadavg().map((x) => x.toFixed(2)).join(' / '),
    os: version('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"']),
    node: process.version,
    npm: version('npm', ['--version']),
    caddy: version('caddy', ['version'], true),
    pm2: version('pm2', ['--version']),
    openssh: version('sh', ['-c', 'ssh -V 2>&1']),
  };
}

function appInfo(b: Bench): BenchResult['app'] {
  if (b.o.fake) return { kind: 'fake (smoke test): no dependencies, a copying build' };
  const app = b.app;
  return {
    'front end': `Vite ${pkgVersion(app, 'vite')} + @vitejs/plugin-react ${pkgVersion(app, '@vitejs/plugin-react')}, React ${pkgVersion(app, 'react')}, react-router-dom, react-bootstrap + bootstrap CSS`,
    'back end': `Express ${pkgVersion(join(app, 'service'), 'express')}, cookie-parser, bcryptjs, uuid (+ one added per repetition of the dependency scenario)`,
    'load mix': 'GET / (static index.html), GET /api/scores, POST /api/score with a JSON body; HTTPS keep-alive through Caddy',
    'scp flow': "system ssh/scp (OpenSSH) with the stand-in's key; ssh rm -rf + mkdir, scp -r build/*, ssh npm install + pm2 restart (fork mode); routed through Caddy by one Portside deploy under its name, then its process replaced by the course's",
  };
}

/** Write <out>/<name>.md, .json and .svg; returns their paths (md, json, svg). */
function writeResults(result: BenchResult, out: string, name: string): string[] {
  mkdirSync(out, { recursive: true });
  const base = join(out, name);
  const files = [`${base}.md`, `${base}.json`, `${base}.svg`];
  writeFileSync(files[2], svg(result));
  writeFileSync(files[0], markdown(result, `${name}.svg`));
  // Raw samples make the JSON large: keep them for the pictured flows only, rounded.
  const slim = { ...result, load: result.load.map((l) => ({ ...l, samples: l.samples.map((s) => [Math.round(s.t), +s.ms.toFixed(1), s.method, s.path, s.status || s.error]) })) };
  writeFileSync(files[1], JSON.stringify(slim) + '\n');
  return files;
}

/** Someone else's Caddy restart can leave it without a certificate for a moment (TLS internal error). */
async function retryOpen<T>(fn: () => Promise<T>, log: (l: string) => void): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= 40) throw e;
      if (i === 0) log(`  could not open the WebSocket (${(e as Error).message.split('\n')[0].slice(0, 120)}): trying again`);
      await sleep(200);
    }
  }
}

function pkgVersion(dir: string, name: string): string {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '3' }, 'load-redeploys': { type: 'string', default: '10' }, rate: { type: 'string', default: '60' },
      latency: { type: 'string', default: '2000' }, fake: { type: 'boolean', default: false }, prefix: { type: 'string', default: 'bench' }, 'port-base': { type: 'string', default: '4800' },
      out: { type: 'string', default: join(REPO, 'bench', 'results') }, keep: { type: 'boolean', default: false },
      'bare-only-unchanged': { type: 'boolean', default: false }, breakdown: { type: 'string', default: '5' }, scale: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }, label: { type: 'string' }, 'keep-env': { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    // The options are documented once, in this file's header comment.
    const header = readFileSync(__filename, 'utf8').split('*/')[0].replace(/^\/\*\*\n/, '').split('\n').map((l) => l.replace(/^ \* ?/, ''));
    process.stdout.write(`Usage: npm run bench -- [options]\n\n${header.join('\n').trim()}\n`);
    process.exit(0);
  }
  const started = Date.now();
  const log = (l: string): void => {
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${l}\n`);
  };
  const unset = values['keep-env'] ? [] : asOnAUsersMachine();
  if (unset.length) log(`timing as on a user's machine: ${unset.join(', ')} unset (bench/user-env.ts; --keep-env keeps it)`);
  const label = values.label;
  if (label !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(label)) throw new Error(`--label ${JSON.stringify(label)} names files: use lower-case letters, digits and dashes, e.g. afternoon`);
  const count = (name: string, text: string): number => {
    if (!/^[0-9]+$/.test(text)) throw new Error(`--${name} ${JSON.stringify(text)} must be a whole number, e.g. 3`);
    return Number(text);
  };
  (values.scale
    ? runScale({ unsetEnv: unset, fake: !!values.fake, prefix: values.prefix!, portBase: Number(values['port-base']) + 50 /* clear of the main run's services */, reps: count('reps', values.reps!), out: values.out!, label, log }).then(({ goals, files }) => ({ result: { goals }, files }))
    : runBench({
    reps: Number(values.reps), loadRedeploys: Number(values['load-redeploys']), rate: Number(values.rate), latency: Number(values.latency),
    fake: !!values.fake, prefix: values.prefix!, portBase: Number(values['port-base']), out: values.out!, label, log, unsetEnv: unset,
    bareScenarios: values['bare-only-unchanged'] ? 'unchanged' : 'all', breakdownRuns: count('breakdown', values.breakdown!),
  })).then(({ result, files }) => {
    process.stdout.write(`\n${result.goals.map((g) => `${g.met ? 'met    ' : 'NOT MET'}  ${g.scenario}: ${g.goal} — ${g.measured}`).join('\n')}\n\nwrote ${files.join(', ')}\n`);
  }, (e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  });
}
