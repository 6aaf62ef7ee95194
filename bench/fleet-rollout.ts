/**
 * `npm run bench:fleet`: how long a rollout takes on the local fleet with 1 and with 3 servers, and how
 * many requests through the load balancer fail while it runs. Each rollout is timed as users type it,
 * `npm run deploy-service <name> <port> -- --dir <app> --target local --fleet --parallel P` (npm's launcher
 * included), and the CLI's own total is read from its summary line. Every timed rollout ships a changed
 * release (a new text in the app), so each one really moves every server. Writes
 * bench/results/<date>-<label>.{md,json}.
 *
 * It brings the local fleet up (`local up --servers N`) and takes it down at the end (`local down --fleet`):
 * run it under the e2e lock, like every command that touches the local servers:
 *     flock /tmp/portside-e2e.lock npm run bench:fleet
 * Options:
 *   --reps N        timed rollouts per configuration (default 3; medians need 3 or more)
 *   --rate N        requests a second through the load balancer during each rollout, half GET, half POST (default 100)
 *   --port N        the bench service's port (default 4870)
 *   --out DIR       where results go (default bench/results)
 *   --label TEXT    the files are <date>-<TEXT>.* (default fleet)
 *   --keep-fleet    leave the fleet up at the end (default: local down --fleet)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const REPO = resolve(__dirname, '..');
const FLEET_JSON = '/var/lib/portside-local/fleet.json';
const NAME = 'bench-fleet';
/** The goal: 3 servers with --parallel 3 take at most this many times one server's rollout. */
const GOAL_RATIO = 1.6;

interface Options {
  readonly reps: number;
  readonly rate: number;
  readonly port: number;
  readonly out: string;
  readonly label: string;
  readonly keepFleet: boolean;
}

/** One timed rollout: wall time through npm, the CLI's own total, and the load through the LB meanwhile. */
interface Rollout {
  readonly wallMs: number;
  readonly cliMs: number | null;
  readonly sent: number;
  readonly failed: number;
  readonly failures: readonly string[];
  /** Whether every answer of the last 0.5 s came from the new release: the rollout really moved the fleet. */
  readonly movedAll: boolean;
}

/** A fleet size and --parallel, with its rollouts. */
interface Configuration {
  readonly servers: number;
  readonly parallel: number;
  readonly rollouts: Rollout[];
}

const log = (line: string): void => { process.stderr.write(`[bench:fleet] ${line}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv, options: {
      reps: { type: 'string', default: '3' }, rate: { type: 'string', default: '100' }, port: { type: 'string', default: '4870' },
      out: { type: 'string', default: join(REPO, 'bench', 'results') }, label: { type: 'string', default: 'fleet' }, 'keep-fleet': { type: 'boolean' },
    },
  });
  const whole = (key: string, text: string, min: number): number => {
    if (!/^\d+$/.test(text) || Number(text) < min) throw new Error(`--${key} ${JSON.stringify(text)}: give a whole number ≥ ${min}, e.g. --${key} ${Math.max(min, 3)}`);
    return Number(text);
  };
  return {
    reps: whole('reps', values.reps, 1), rate: whole('rate', values.rate, 2), port: whole('port', values.port, 1024),
    out: values.out, label: values.label, keepFleet: !!values['keep-fleet'],
  };
}

/** The portside CLI as `npm run portside` would run it (the shim rebuilds dist/ when sources changed). */
function portside(args: string[]): string {
  return execFileSync('node', ['bin/portside.js', ...args], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** A dependency-free service answering `text` after it read the body (a POST handler's shape). */
function writeApp(dir: string, text: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: NAME, version: '1.0.0', main: 'index.js' }));
  // x-bench-app names the server's deploy user: an answer without it did not come from the app.
  writeFileSync(join(dir, 'index.js'), `require('http').createServer((req, res) => {
  res.setHeader('x-bench-app', require('os').userInfo().username);
  let n = 0;
  req.on('data', (c) => { n += c.length; });
  req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(${JSON.stringify(text)} + ' ' + req.method + ' ' + n + '\\n'); });
}).listen(Number(process.argv[2]));
`);
}

/** Run the documented command; resolve with its wall time and the total its summary line gives. */
function deployThroughNpm(o: Options, dir: string, parallel: number): Promise<{ wallMs: number; cliMs: number | null }> {
  const args = ['run', '--silent', 'deploy-service', NAME, String(o.port), '--', '--dir', dir, '--target', 'local', '--fleet', '--parallel', String(parallel)];
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('npm', args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INIT_CWD: REPO } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', fail);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) return fail(new Error(`npm ${args.join(' ')} exited ${code}:\n${err.trim().split('\n').slice(-40).join('\n')}`));
      const total = /\((\d+(?:\.\d+)?)s\)\s*$/m.exec(out);
      done({ wallMs, cliMs: total ? Number(total[1]) * 1000 : null });
    });
  });
}

interface Load { stop(): Promise<{ sent: number; failures: string[]; answers: Array<{ at: number; text: string }> }> }

/**
 * GET and POST through the load balancer (HTTPS with its own CA, Host `<NAME>.<domain>`) at `rate` a
 * second. A failure is anything but a 200 whose body is the app's whole answer for that method.
 */
function loadThroughLb(address: string, domain: string, ca: Buffer, rate: number): Load {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  const host = `${NAME}.${domain}`;
  const failures: string[] = [];
  const answers: Array<{ at: number; text: string }> = [];
  const inFlight = new Set<Promise<void>>();
  const t0 = Date.now();
  let sent = 0;
  const once = (method: 'GET' | 'POST'): Promise<void> => new Promise((done) => {
    const body = method === 'POST' ? 'x'.repeat(200) : '';
    const req = https.request({ host: address, port: 443, method, path: '/', servername: host, headers: { host }, agent, ca, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        if (res.statusCode !== 200 || !text.endsWith(` ${method} ${body.length}\n`)) failures.push(`${Date.now() - t0} ms ${method}: ${res.statusCode} ${JSON.stringify(text.slice(0, 60))} (content-length ${res.headers['content-length'] ?? 'none'}, from the app: ${res.headers['x-bench-app'] ?? 'no'}, reused connection: ${req.reusedSocket})`);
        else answers.push({ at: Date.now(), text });
        done();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { failures.push(`${Date.now() - t0} ms ${method}: ${e.message}`); done(); });
    req.end(body || undefined);
  });
  const ask = (method: 'GET' | 'POST'): void => {
    sent++;
    const p = once(method);
    inFlight.add(p);
    void p.then(() => inFlight.delete(p));
  };
  const timer = setInterval(() => { ask('GET'); ask('POST'); }, 2000 / rate);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      agent.destroy();
      return { sent, failures, answers };
    },
  };
}

interface FleetFacts { readonly address: string; readonly domain: string; readonly ca: Buffer }

/** `local up --servers N` (create, repair or resize), then the load balancer's address, domain and CA. */
function fleetOf(servers: number): FleetFacts {
  portside(['local', 'up', '--servers', String(servers)]);
  const f = JSON.parse(readFileSync(FLEET_JSON, 'utf8')) as { loadBalancer: { address: string }; domain: string; caCertPath: string; servers: unknown[] };
  if (f.servers.length !== servers) throw new Error(`local up --servers ${servers} left ${f.servers.length} servers in ${FLEET_JSON}`);
  return { address: f.loadBalancer.address, domain: f.domain, ca: readFileSync(f.caCertPath) };
}

/** One timed rollout of a changed release under load; a second of load before and after it. */
async function timedRollout(o: Options, fleet: FleetFacts, dir: string, parallel: number, text: string): Promise<Rollout> {
  writeApp(dir, text);
  const load = loadThroughLb(fleet.address, fleet.domain, fleet.ca, o.rate);
  await sleep(1000);
  const timed = await deployThroughNpm(o, dir, parallel).catch(async (e: Error) => { await load.stop(); throw e; });
  await sleep(1000);
  const { sent, failures, answers } = await load.stop();
  const end = answers.length ? answers[answers.length - 1].at : 0;
  const tail = answers.filter((a) => a.at >= end - 500);
  const movedAll = tail.length > 0 && tail.every((a) => a.text.startsWith(`${text} `));
  log(`${text}: ${(timed.wallMs / 1000).toFixed(2)} s (CLI ${timed.cliMs === null ? '?' : (timed.cliMs / 1000).toFixed(2)} s); ${sent} requests, ${failures.length} failed; new release everywhere at the end: ${movedAll}`);
  return { ...timed, sent, failed: failures.length, failures: failures.slice(0, 10), movedAll };
}

/**
 * Bring the fleet to `servers`, roll the app out once untimed (new servers get their first release and
 * warm their caches), then time `reps` rollouts for each --parallel, interleaved so drift hits all alike.
 */
async function measure(o: Options, servers: number, parallels: readonly number[], dir: string): Promise<Configuration[]> {
  const fleet = fleetOf(servers);
  log(`fleet of ${servers} up; warm-up rollout`);
  writeApp(dir, `warm-up ${servers}`);
  await deployThroughNpm(o, dir, Math.max(...parallels));
  const configs = parallels.map((parallel) => ({ servers, parallel, rollouts: [] as Rollout[] }));
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const c of configs) c.rollouts.push(await timedRollout(o, fleet, dir, c.parallel, `servers ${servers} parallel ${c.parallel} rep ${rep}`));
  }
  return configs;
}

const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const range = (xs: readonly number[]): string => `${seconds(median(xs))} (${seconds(Math.min(...xs))}–${seconds(Math.max(...xs))})`;

/** The results as the markdown page bench/results/<date>-<label>.md. */
function markdown(o: Options, configs: readonly Configuration[], meta: { date: string; minutes: number; machine: string }): string {
  const base = configs.find((c) => c.servers === 1)!;
  const rows = configs.map((c) => {
    const wall = c.rollouts.map((r) => r.wallMs);
    const cli = c.rollouts.map((r) => r.cliMs).filter((x): x is number => x !== null);
    const sent = c.rollouts.reduce((n, r) => n + r.sent, 0);
    const failed = c.rollouts.reduce((n, r) => n + r.failed, 0);
    const moved = c.rollouts.filter((r) => r.movedAll).length;
    return `| ${c.servers} | ${c.parallel} | ${range(wall)} | ${(median(wall) / median(base.rollouts.map((r) => r.wallMs))).toFixed(2)}× | ${cli.length ? range(cli) : '-'} | ${sent} | ${failed} | ${moved} of ${c.rollouts.length} |`;
  });
  const goal = configs.find((c) => c.servers === 3 && c.parallel === 3);
  const ratio = goal ? median(goal.rollouts.map((r) => r.wallMs)) / median(base.rollouts.map((r) => r.wallMs)) : NaN;
  const failures = configs.flatMap((c) => c.rollouts.flatMap((r) => r.failures.map((f) => `- ${c.servers} servers, --parallel ${c.parallel}: ${f}`)));
  return [
    `# A fleet rollout's time, 1 and 3 servers — ${meta.date}`, '',
    `One run of \`npm run bench:fleet -- --reps ${o.reps} --rate ${o.rate}\` (bench/fleet-rollout.ts), ${meta.minutes.toFixed(1)} min, on the local fleet`
    + ` (\`portside local up --servers N\`: N stand-in servers, the load balancer, the S3-compatible store, all on this machine: ${meta.machine}).`
    + ` Each rollout ships a changed release of a dependency-free service and is timed as typed:`
    + ` \`npm run deploy-service ${NAME} ${o.port} -- --dir <app> --target local --fleet --parallel P\` (npm's launcher included; "CLI" is the total the command prints).`
    + ` Load: ${o.rate} requests/s through the load balancer (HTTPS, half GET, half POST with a 200-byte body), from 1 s before each rollout to 1 s after;`
    + ` a failure is anything but a 200 with the app's whole answer. Medians of ${o.reps}, with (min–max).`, '',
    '| servers | --parallel | rollout, wall: s | × 1 server | CLI total: s | requests | failed | new release on every answer of the last 0.5 s |', '|---|---|---|---|---|---|---|---|', ...rows, '',
    '## Goal', '', '| goal | measured | met |', '|---|---|---|',
    `| 3 servers with --parallel 3 take ≤ ${GOAL_RATIO}× one server's rollout | ${ratio.toFixed(2)}× | ${ratio <= GOAL_RATIO ? 'yes' : '**no**'} |`,
    `| no request through the load balancer fails during a rollout | ${configs.reduce((n, c) => n + c.rollouts.reduce((m, r) => m + r.failed, 0), 0)} failed | ${failures.length === 0 ? 'yes' : '**no**'} |`, '',
    ...(failures.length ? ['## Failed requests (first 10 per rollout)', '', ...failures, ''] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const started = Date.now();
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the start`;
  const dir = mkdtempSync(join(tmpdir(), 'portside-bench-fleet-'));
  let configs: Configuration[] = [];
  try {
    configs = [...await measure(o, 1, [1], join(dir, 'app')), ...await measure(o, 3, [3, 1], join(dir, 'app'))];
  } finally {
    if (!o.keepFleet) portside(['local', 'down', '--fleet']);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(o.out, { recursive: true });
  const file = join(o.out, `${date}-${o.label}`);
  const page = markdown(o, configs, { date, minutes: (Date.now() - started) / 60_000, machine });
  writeFileSync(`${file}.md`, `${page}\n`);
  writeFileSync(`${file}.json`, `${JSON.stringify({ date, options: o, machine, configurations: configs }, null, 2)}\n`);
  process.stdout.write(`${page}\nwrote ${file}.md and ${file}.json\n`);
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`bench:fleet: ${e.message}\n`);
    process.exit(1);
  });
}
