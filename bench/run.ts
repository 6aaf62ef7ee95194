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
 *   --bare-only-unchanged  time the bare CLI only when nothing changed (the smoke test; default: also
 *                       a back-end line and a front-end word)
 *   --scale             instead: how deploy times grow with services on the server and files in the
 *                       app (bench/scale.ts), on ports from --port-base + 50; writes bench/results/<date>-scale.{md,json}
 *   --breakdown N       traced nothing-changed deploys for the time breakdown (default 5; 0 skips it)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ADDED_DEPENDENCIES, addDependency, changeBackEnd, changeFrontEnd, installApp, writeApp } from './app';
import { DeployResult, standIn, waitedForLock, knownHostsFor, portsideDeploy, portsideRemove, REPO, runTimed, scpDeploy, setupScpService, ssh, WORK } from './flows';
import { Breakdown, breakdown } from './breakdown';
import { quantile, startLoad, summarize, tlsHandshakes } from './load';
import { BenchResult, Flow, Goal, kB, LoadResult, markdown, ScenarioResult, stat, svg } from './report';
import { runScale } from './scale';
import { openWs, writeWsService } from './ws';

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
  /** Traced nothing-changed deploys for the time breakdown (0 skips it). @default 5 */
  breakdownRuns?: number;
  /** Which scenarios also time the bare CLI. @default 'all' (nothing changed, a back-end line, a front-end word) */
  bareScenarios?: 'all' | 'unchanged';
  log: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function version(cmd: string, args: string[], netns = false): string {
  try {
    const argv = netns ? ['netns', 'exec', 'portside', cmd, ...args] : args;
    return execFileSync(netns ? 'ip' : cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
  } catch {
    return 'unknown';
  }
}

export async function runBench(o: BenchOptions): Promise<{ result: BenchResult; files: string[] }> {
  const t0 = Date.now();
  const startedAt = new Date();
  const log = o.log;
  const server = await standIn(log);
  mkdirSync(WORK, { recursive: true });
  const knownHosts = knownHostsFor(server);
  const ca = readFileSync(server.caCertPath);
  const names = { portside: `${o.prefix}-portside`, scp: `${o.prefix}-scp`, ws: `${o.prefix}-ws` };
  const host = (name: string): string => `${name}.${server.domain}`;

  // ---- Caddy's TLS front door before we start (see tlsHandshakes)
  const frontDoor = async (): Promise<{ listeners443: number; handshakes: number; refused: number }> => {
    const ss = await runTimed('ip', ['netns', 'exec', 'portside', 'ss', '-Hltn', 'sport = :443'], { allowFail: true });
    const hs = await tlsHandshakes(server.address, `${names.portside}.${server.domain}`, ca, 200);
    return { listeners443: ss.out.trim().split('\n').filter(Boolean).length, handshakes: hs.ok + hs.failed, refused: hs.failed };
  };
  const doorBefore = await frontDoor();
  log(`Caddy's front door: ${doorBefore.listeners443} listening sockets on :443; ${doorBefore.refused} of ${doorBefore.handshakes} fresh TLS handshakes refused`);

  // ---- the app
  const app = join(WORK, o.fake ? `${o.prefix}-app-fake` : `${o.prefix}-app`);
  log(`generating the app in ${app}`);
  writeApp(app, { fake: o.fake });
  if (!o.fake) installApp(app, log);
  await runTimed('npm', ['run', 'build'], { cwd: app });
  const wsDir = join(WORK, `${o.prefix}-ws`);
  writeWsService(wsDir);

  // ---- clean slate on the server, then the first deploys (not timed)
  log('removing what an earlier run left on the server');
  for (const n of Object.values(names)) await portsideRemove(n);
  await ssh(server, knownHosts, `pm2 delete ${names.scp} >/dev/null 2>&1; rm -rf course/${names.scp}; pm2 save --force >/dev/null; echo ok\n`);
  // A cold first deploy: a new service on the server, and no record of an earlier local build (the
  // course's first deploy builds too). npm's launcher included, as for every timed Portside deploy.
  rmSync(join(app, 'node_modules', '.cache', 'portside'), { recursive: true, force: true });
  log(`first (cold) deploy of ${names.portside} with Portside`);
  const first = await portsideDeploy(app, names.portside, [String(o.portBase)], 'npm');
  log(`  ${first.note} (${(first.ms / 1000).toFixed(2)} s)`);
  log(`setting up ${names.scp} the course's way`);
  const scpFirst = await setupScpService(app, names.scp, o.portBase + 1, server, knownHosts, log);
  log(`  the course's first deploy: ${(scpFirst.ms / 1000).toFixed(2)} s`);
  log(`first deploy of ${names.ws} (a WebSocket service) with Portside`);
  await portsideDeploy(wsDir, names.ws, [String(o.portBase + 2)]);

  // The stand-in is shared: when a deploy fails because the connection broke (someone repaired the
  // server, say), it is run once more and the failure logged; a second failure ends the bench.
  const retried = (flow: Flow, fn: () => Promise<DeployResult>) => async (): Promise<DeployResult> => {
    try {
      return await fn();
    } catch (e) {
      log(`  ${flow} deploy failed, trying once more: ${(e as Error).message.split('\n').slice(0, 2).join(' ')}`);
      await sleep(2000);
      return fn();
    }
  };
  const deployers: Record<Flow, () => Promise<DeployResult>> = {
    scp: retried('scp', () => scpDeploy(app, names.scp, server, knownHosts)),
    portside: retried('portside', () => portsideDeploy(app, names.portside, [String(o.portBase)], 'npm')),
    bare: retried('bare', () => portsideDeploy(app, names.portside, [String(o.portBase)], 'node')),
  };

  // ---- timed scenarios, interleaved
  type Acc = Record<Flow, DeployResult[]>;
  const acc = (): Acc => ({ scp: [], portside: [], bare: [] });
  // prepare(rep, variant): the change; variant 1 is a second, different change of the same kind.
  const scenarios: Array<{ id: string; title: string; prepare: (rep: number, variant: number) => void; acc: Acc }> = [
    { id: 'unchanged', title: 'redeploy, nothing changed', prepare: () => {}, acc: acc() },
    { id: 'backend', title: 'back end changed by one line', prepare: (rep, v) => changeBackEnd(app, `v${rep}.${v}-${Date.now()}`), acc: acc() },
    { id: 'frontend', title: 'front end changed by one word', prepare: (rep, v) => changeFrontEnd(app, `Startup ${rep}.${v}-${Date.now() % 1000}`), acc: acc() },
    { id: 'dependency', title: 'a dependency added (back end)', prepare: (rep) => (o.fake ? changeBackEnd(app, `dep${rep}`) : addDependency(app, ADDED_DEPENDENCIES[rep % ADDED_DEPENDENCIES.length])), acc: acc() },
  ];
  // Adding a dependency twice per repetition would run out of small packages: no bare timing there.
  const bareIn = o.bareScenarios === 'unchanged' ? ['unchanged'] : ['unchanged', 'backend', 'frontend'];
  // Every flow starts each scenario from the same state: the previous flow's deploy of the last change.
  // The npm-launched and the bare CLI deploy the same service, so the second of them gets a change of
  // its own (else it would find its change already live).
  for (let rep = 0; rep < o.reps; rep++) {
    for (const sc of scenarios) {
      sc.prepare(rep, 0);
      const flows: Flow[] = bareIn.includes(sc.id) ? ['scp', 'portside', 'bare'] : ['scp', 'portside'];
      const order = rep % 2 === 0 ? flows : [...flows].reverse();
      let portsideRuns = 0;
      for (const flow of order) {
        if (flow !== 'scp' && portsideRuns++ > 0) sc.prepare(rep, 1);
        let r = await deployers[flow]();
        // Someone else's deploy took the lock between our check and our start: measure again with a fresh change.
        for (let retry = 0; retry < 3 && waitedForLock(r); retry++) {
          log(`  ${flow} waited for another deploy's lock (${(r.ms / 1000).toFixed(2)} s): measuring again`);
          if (sc.id === 'dependency' && !o.fake) addDependency(app, ADDED_DEPENDENCIES[(o.reps + retry) % ADDED_DEPENDENCIES.length]);
          else if (sc.id !== 'unchanged') changeBackEnd(app, `retry-${Date.now()}`);
          if (sc.id === 'frontend') changeFrontEnd(app, `Retry ${Date.now() % 1000}`);
          r = await deployers[flow]();
        }
        sc.acc[flow].push(r);
        log(`rep ${rep + 1}/${o.reps} ${sc.id.padEnd(10)} ${flow.padEnd(8)} ${(r.ms / 1000).toFixed(2)} s, ${kB(r.bytes)}, build ${(r.buildMs / 1000).toFixed(2)} s`);
      }
    }
  }
  const scenarioResults: ScenarioResult[] = scenarios.map((sc) => ({
    id: sc.id, title: sc.title,
    flows: Object.fromEntries((['scp', 'portside', 'bare'] as Flow[]).filter((f) => sc.acc[f].length).map((f) => [f, {
      ms: stat(sc.acc[f].map((r) => r.ms)), bytes: stat(sc.acc[f].map((r) => r.bytes)), buildMs: stat(sc.acc[f].map((r) => r.buildMs)),
      addedMs: stat(sc.acc[f].map((r) => r.ms - r.buildMs)), notes: sc.acc[f].map((r) => r.note).filter(Boolean),
    }])) as ScenarioResult['flows'],
  }));

  // ---- where a nothing-changed deploy's time goes (the service is at the app's current state)
  let timeBreakdown: Breakdown | null = null;
  if ((o.breakdownRuns ?? 5) > 0) {
    timeBreakdown = await breakdown(app, names.portside, o.portBase, o.breakdownRuns ?? 5);
    log(`nothing-changed breakdown (${timeBreakdown.runs} runs, median ${(timeBreakdown.totalMs / 1000).toFixed(2)} s): ${timeBreakdown.phases.map((p) => `${p.name.split(' (')[0]} ${p.ms.toFixed(0)} ms`).join('; ')}`);
  }

  // ---- a WebSocket to another service stays open while each flow redeploys
  const caddyfile = JSON.parse(readFileSync(join(execFileSync('getent', ['passwd', server.user], { encoding: 'utf8' }).split(':')[5], '.portside', 'registry.json'), 'utf8')).paths.caddyfile as string;
  const websocket: BenchResult['websocket'] = [];
  for (const flow of ['scp', 'portside'] as Flow[]) {
    const ws = await retryOpen(() => openWs(server.address, host(names.ws), ca), log);
    await sleep(500);
    const before = ws.received();
    const mtime = statSync(caddyfile).mtimeMs;
    changeBackEnd(app, `ws-${flow}-${Date.now()}`);
    await deployers[flow]();
    const during = ws.received() - before;
    await sleep(1000);
    const after = ws.received() - before - during;
    websocket.push({ flow, stayedOpen: ws.closed() === null && after > 0, messagesDuring: during, messagesAfter: after, closed: ws.closed(), caddyfileUnchanged: statSync(caddyfile).mtimeMs === mtime });
    ws.close();
    log(`websocket while ${flow} redeploys: ${websocket[websocket.length - 1].stayedOpen ? 'stayed open' : `closed (${ws.closed()})`}, ${during} + ${after} messages`);
  }

  // ---- consecutive redeploys under load
  const load: LoadResult[] = [];
  for (const flow of ['scp', 'portside'] as Flow[]) {
    const name = flow === 'scp' ? names.scp : names.portside;
    const maxMs = 2000 + o.loadRedeploys * 60_000;
    const run = startLoad({ address: server.address, host: host(name), ca, rate: o.rate, maxMs, maxRequests: Math.ceil((o.rate * maxMs) / 1000) });
    await sleep(1500);
    const deploys: LoadResult['deploys'] = [];
    for (let i = 0; i < o.loadRedeploys; i++) {
      changeBackEnd(app, `load-${flow}-${i}-${Date.now()}`);
      const r = await deployers[flow]();
      deploys.push({ start: r.start, end: r.end, ms: r.ms });
      await sleep(300);
    }
    await sleep(2000);
    const samples = await run.stop();
    const summary = summarize(samples);
    load.push({ flow, redeploys: o.loadRedeploys, deploys, summary, startedAt: run.startedAt, samples });
    log(`under load, ${flow}: ${summary.requests} requests at ${summary.rate.toFixed(1)}/s, ${summary.failed} failed (GET ${summary.failedGet}, POST ${summary.failedPost}), max ${summary.maxMs.toFixed(0)} ms, longest gap ${summary.longestGapMs.toFixed(0)} ms; ${JSON.stringify(summary.statuses)}`);
    for (const f of samples.filter((x) => !x.ok).slice(0, flow === 'portside' ? 20 : 3)) {
      const d = deploys.find((x) => x.start - run.startedAt <= f.t + 100 && x.end - run.startedAt >= f.t - 100);
      log(`  failed: ${f.method} ${f.path} at ${(f.t / 1000).toFixed(3)} s: ${f.status || f.error} after ${f.ms.toFixed(0)} ms${d ? ` (during redeploy ${deploys.indexOf(d) + 1})` : ' (between redeploys)'}`);
    }
  }

  // ---- Caddy vs direct
  let latency: BenchResult['latency'] = null;
  if (o.latency > 0) {
    const port = Number(/on port (\d+)/.exec(first.note)?.[1] ?? 0);
    const args = ['netns', 'exec', 'portside', process.execPath, join(REPO, 'bench', 'latency-client.js'), String(port), host(names.portside), server.caCertPath, String(o.latency)];
    // Someone else's route change can leave Caddy without this name's certificate for a moment: try again.
    let r = await runTimed('ip', args, { allowFail: true });
    for (let i = 0; i < 3 && r.code !== 0; i++) {
      log(`  latency client failed (${r.err.trim().split('\n')[0]}): trying again`);
      await sleep(3000);
      r = await runTimed('ip', args, { allowFail: true });
    }
    if (r.code !== 0) throw new Error(`the latency client failed: ${r.err}`);
    const { direct, caddy, tlsRetries } = JSON.parse(r.out) as { direct: number[]; caddy: number[]; tlsRetries: number };
    const q = (xs: number[], p: number): number => quantile([...xs].sort((a, b) => a - b), p);
    latency = {
      count: o.latency,
      direct: { p50: q(direct, 0.5), p99: q(direct, 0.99) },
      caddy: { p50: q(caddy, 0.5), p99: q(caddy, 0.99) },
      overheadP50: q(caddy, 0.5) - q(direct, 0.5),
      overheadP99: q(caddy, 0.99) - q(direct, 0.99),
      tlsRetries,
    };
    log(`latency: direct p50 ${latency.direct.p50.toFixed(2)} ms, via Caddy p50 ${latency.caddy.p50.toFixed(2)} ms`);
  }

  const doorAfter = await frontDoor();
  log(`Caddy's front door at the end: ${doorAfter.listeners443} listening sockets on :443; ${doorAfter.refused} of ${doorAfter.handshakes} fresh TLS handshakes refused`);

  // ---- goals
  const sc = (id: string): ScenarioResult => scenarioResults.find((s) => s.id === id)!;
  const ratio = (id: string): number => sc(id).flows.scp.ms.median / sc(id).flows.portside.ms.median;
  const s2 = (ms: number): string => (ms / 1000).toFixed(2);
  // The bare CLI's figure, beside the one users see, when it was measured.
  const bareNote = (id: string): string => {
    const b = sc(id).flows.bare;
    return b ? `; bare CLI ${s2(b.ms.median)} s, ${(sc(id).flows.scp.ms.median / b.ms.median).toFixed(1)}×` : '';
  };
  const speedGoal = (id: string, times: number): Goal => ({
    scenario: `${sc(id).title} (npm run deploy-service)`, goal: `≥ ${times}× faster than the course's flow`,
    measured: `${ratio(id).toFixed(1)}× (${s2(sc(id).flows.scp.ms.median)} s vs ${s2(sc(id).flows.portside.ms.median)} s${bareNote(id)})`, met: ratio(id) >= times,
  });
  const goals: Goal[] = [
    speedGoal('unchanged', 15),
    speedGoal('backend', 8),
    (() => {
      const b = sc('backend').flows;
      const pct = b.scp.bytes.median ? (b.portside.bytes.median / b.scp.bytes.median) * 100 : 100;
      return { scenario: 'back end changed by one line', goal: 'bytes sent ≤ 2 % of the scp flow\'s', measured: `${pct.toFixed(2)} % (${kB(b.portside.bytes.median)} vs ${kB(b.scp.bytes.median)})`, met: pct <= 2 };
    })(),
    (() => {
      const f = sc('frontend').flows;
      return { scenario: 'front end changed by one word (npm run deploy-service)', goal: 'the build runs; Portside adds ≤ 0.7 s beyond it', measured: `build ${s2(f.portside.buildMs.median)} s, added ${s2(f.portside.addedMs.median)} s${f.bare ? ` (bare CLI adds ${s2(f.bare.addedMs.median)} s)` : ''}; the scp flow adds ${s2(f.scp.addedMs.median)} s`, met: f.portside.addedMs.median <= 700 && f.portside.buildMs.min > 0 };
    })(),
    { scenario: 'first (cold) deploy: a new service, nothing built yet', goal: "no slower than the course's first deploy", measured: `${s2(first.ms)} s (build ${s2(first.buildMs)} s) vs ${s2(scpFirst.ms)} s (build ${s2(scpFirst.buildMs)} s)`, met: first.ms <= scpFirst.ms },
    { scenario: 'a dependency added', goal: 'no slower than the scp flow', measured: `${(sc('dependency').flows.portside.ms.median / 1000).toFixed(2)} s vs ${(sc('dependency').flows.scp.ms.median / 1000).toFixed(2)} s`, met: sc('dependency').flows.portside.ms.median <= sc('dependency').flows.scp.ms.median },
    (() => {
      const p = load.find((l) => l.flow === 'portside')!.summary;
      const s = load.find((l) => l.flow === 'scp')!.summary;
      const tlsNote = p.failedTls || s.failedTls ? ` (TLS handshakes refused by Caddy's front door, not by a deploy: Portside ${p.failedTls}, scp flow ${s.failedTls}; see "Caddy's front door")` : '';
      return { scenario: `${o.loadRedeploys} redeploys under ≥ 50 req/s (GET + POST)`, goal: '0 failed, none slower than 2 s', measured: `Portside: ${p.failedHttp} failed, ${p.slow} slower than 2 s (max ${p.maxMs.toFixed(0)} ms) at ${p.rate.toFixed(0)}/s; scp flow: ${s.failedHttp} failed, longest gap ${s.longestGapMs.toFixed(0)} ms${tlsNote}`, met: p.failedHttp === 0 && p.slow === 0 && p.rate >= 50 };
    })(),
    (() => {
      const w = websocket.find((x) => x.flow === 'portside')!;
      return { scenario: 'a WebSocket to another service during a redeploy', goal: 'stays open', measured: w.stayedOpen ? `open, ${w.messagesDuring + w.messagesAfter} messages received across it; Caddy not reloaded` : `closed: ${w.closed}`, met: w.stayedOpen };
    })(),
    ...(latency ? [{ scenario: 'Caddy vs direct', goal: 'p50 overhead ≤ 1 ms', measured: `p50 ${latency.direct.p50.toFixed(2)} → ${latency.caddy.p50.toFixed(2)} ms (+${latency.overheadP50.toFixed(2)}); p99 ${latency.direct.p99.toFixed(2)} → ${latency.caddy.p99.toFixed(2)} ms`, met: latency.overheadP50 <= 1 }] : []),
  ];

  // ---- write
  const date = startedAt.toISOString().slice(0, 10);
  const result: BenchResult = {
    date, startedAt: startedAt.toISOString(), durationS: (Date.now() - t0) / 1000,
    machine: {
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
    },
    app: o.fake ? { kind: 'fake (smoke test): no dependencies, a copying build' } : {
      'front end': `Vite ${pkgVersion(app, 'vite')} + @vitejs/plugin-react ${pkgVersion(app, '@vitejs/plugin-react')}, React ${pkgVersion(app, 'react')}, react-router-dom, react-bootstrap + bootstrap CSS`,
      'back end': `Express ${pkgVersion(join(app, 'service'), 'express')}, cookie-parser, bcryptjs, uuid (+ one added per repetition of the dependency scenario)`,
      'load mix': 'GET / (static index.html), GET /api/scores, POST /api/score with a JSON body; HTTPS keep-alive through Caddy',
      'scp flow': "system ssh/scp (OpenSSH) with the stand-in's key; ssh rm -rf + mkdir, scp -r build/*, ssh npm install + pm2 restart (fork mode); routed through Caddy by one Portside deploy under its name, then its process replaced by the course's",
    },
    options: { reps: o.reps, loadRedeploys: o.loadRedeploys, rate: o.rate, latency: o.latency, fake: o.fake },
    scenarios: scenarioResults, load, websocket, latency, goals, frontDoor: { before: doorBefore, after: doorAfter },
    breakdown: timeBreakdown,
    cold: { portside: { ms: first.ms, buildMs: first.buildMs, note: first.note }, scp: { ms: scpFirst.ms, buildMs: scpFirst.buildMs } },
  };
  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, date);
  const files = [`${base}.md`, `${base}.json`, `${base}.svg`];
  writeFileSync(files[2], svg(result));
  writeFileSync(files[0], markdown(result, `${date}.svg`));
  // Raw samples make the JSON large: keep them for the pictured flows only, rounded.
  const slim = { ...result, load: result.load.map((l) => ({ ...l, samples: l.samples.map((s) => [Math.round(s.t), +s.ms.toFixed(1), s.method, s.path, s.status || s.error]) })) };
  writeFileSync(files[1], JSON.stringify(slim) + '\n');
  return { result, files };
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
    },
  });
  const started = Date.now();
  const log = (l: string): void => {
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${l}\n`);
  };
  const count = (name: string, text: string): number => {
    if (!/^[0-9]+$/.test(text)) throw new Error(`--${name} ${JSON.stringify(text)} must be a whole number, e.g. 3`);
    return Number(text);
  };
  (values.scale
    ? runScale({ fake: !!values.fake, prefix: values.prefix!, portBase: Number(values['port-base']) + 50 /* clear of the main run's services */, reps: count('reps', values.reps!), out: values.out!, log }).then(({ goals, files }) => ({ result: { goals }, files }))
    : runBench({
    reps: Number(values.reps), loadRedeploys: Number(values['load-redeploys']), rate: Number(values.rate), latency: Number(values.latency),
    fake: !!values.fake, prefix: values.prefix!, portBase: Number(values['port-base']), out: values.out!, log,
    bareScenarios: values['bare-only-unchanged'] ? 'unchanged' : 'all', breakdownRuns: count('breakdown', values.breakdown!),
  })).then(({ result, files }) => {
    process.stdout.write(`\n${result.goals.map((g) => `${g.met ? 'met    ' : 'NOT MET'}  ${g.scenario}: ${g.goal} — ${g.measured}`).join('\n')}\n\nwrote ${files.join(', ')}\n`);
  }, (e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  });
}
