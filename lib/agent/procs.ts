// Processes: the probe (the new release on a transient port, before anything switches), pm2 (the
// service on its own port), and HTTP health checks.
import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import type { Writable } from 'node:stream';
import { homedir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import type { StartSpec } from '../protocol';
import { Pm2App, pm2App } from '../remote/pm2-app';
import { parsePm2Jlist, Pm2Process, pm2Port } from '../remote/pm2-list';
import { EPHEMERAL_RANGE_FILE, parseEphemeralRange, PortRange, probeRange } from '../ports/probe-range';
import { HEALTH_TOKEN_FILE, onServer, PM2_FILE, PRELOAD_FILE, PROBES_DIR, RELEASE_ENV_FILE } from '../remote/layout';
import * as owner from './port-owner';
import { GO, HOLD_ENV, HOLD_FD } from './probe-hold';
import { AgentError } from './protocol-io';
import { run, tail } from './run';

export type { Pm2Process } from '../remote/pm2-list';

export const PRELOAD = onServer(homedir(), PRELOAD_FILE);
const PROBES = onServer(homedir(), PROBES_DIR);

export type { Pm2App } from '../remote/pm2-app';

/** An answer to a health check: the status (or an error code) and the preload's pid header. */
export interface HealthAnswer {
  readonly status: number | string;
  readonly pid: number | null;
}

/** GET 127.0.0.1:port+path once; resolves the status code, or an error code string. */
export async function probeHttp(port: number, urlPath: string, timeoutMs = 3000, host = '127.0.0.1'): Promise<number | string> {
  return (await askHealth(port, urlPath, timeoutMs, host)).status;
}

/**
 * GET 127.0.0.1:port+path once with the health token; resolves the status (or an error code string)
 * and the pid of the process that answered, when it runs Portside's preload (else null).
 */
export function askHealth(port: number, urlPath: string, timeoutMs = 3000, host = '127.0.0.1'): Promise<HealthAnswer> {
  return new Promise((resolve) => {
    const headers = { 'user-agent': 'portside-health', 'x-portside-health': healthToken() };
    // One connection per question, closed with its answer (agent: false sends `Connection: close`). Node's
    // global agent (keep-alive since Node 19) would leave it idle in the probe, whose drain closes an idle
    // connection only after IDLE_CLOSE_MS (idle-connections.ts): ending the probe, which verify waits for,
    // then took ~0.25 s more (verify 0.29 s -> 0.05 s median of 10 one-line redeploys on the local server).
    const req = http.get({ host, port, path: urlPath, timeout: timeoutMs, headers, agent: false }, (res) => {
      res.resume();
      const pid = Number(res.headers['x-portside-pid']);
      resolve({ status: res.statusCode ?? 'ERROR', pid: Number.isInteger(pid) && pid > 0 ? pid : null });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: e.code || 'ERROR', pid: null }));
  });
}

let token: string | undefined;
/** The server's health token (made once, readable by the deploy user only; see preload.js). */
function healthToken(): string {
  if (token) return token;
  const file = onServer(homedir(), HEALTH_TOKEN_FILE);
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch {
    token = '';
  }
  if (!token) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, randomBytes(16).toString('hex'), { mode: 0o600 });
    try {
      linkSync(tmp, file); // never replace a token another agent made a moment ago
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      rmSync(tmp, { force: true });
    }
    token = readFileSync(file, 'utf8').trim();
  }
  return token;
}

/**
 * Whether an answer came from the process we started (`root`, or a process under it: `npm start` runs
 * node under sh). An answer without a pid comes from a process without Portside's preload: accepted only
 * when the port's listening socket is held by `root`'s tree or by pm2's daemon (cluster mode), so an
 * orphan or a stranger on the port is never taken for the new release. Returns null when it is ours,
 * else the stranger's pid (or 'unknown').
 */
export function answeredBy(answer: HealthAnswer, roots: readonly number[], port: number): number | 'unknown' | null {
  const ours = (pid: number): boolean => roots.some((root) => root && owner.isSameOrDescendant(pid, root));
  if (answer.pid) return ours(answer.pid) ? null : answer.pid;
  const { pids } = owner.listenerPids(port);
  const daemon = pm2DaemonPid();
  if (pids.length && pids.every((p) => ours(p) || p === daemon)) return null;
  return pids[0] || 'unknown';
}

const pm2Home = (): string => process.env.PM2_HOME || join(homedir(), '.pm2');

export function pm2DaemonPid(): number {
  try {
    return Number(readFileSync(join(pm2Home(), 'pm2.pid'), 'utf8'));
  } catch {
    return 0;
  }
}

/** The message for an answer that came from someone else: who answered, and who should have. */
export function strangerMessage(port: number, stranger: number | 'unknown', root: number, what: string): string {
  const who = stranger === 'unknown' ? (owner.describeHolders(port) || 'a process that is gone') : `pid ${stranger} (${owner.commandLine(stranger) || 'gone'})`;
  return `127.0.0.1:${port} is answered by ${who}, not by ${what} (pid ${root})`;
}

export const healthy = (status: number | string | null | undefined): status is number => typeof status === 'number' && status < 500;

/** A port of the dynamic range for a random number in [0, 1): every port of the range can come out. Pure. */
export function probePortFor(random: number, range: PortRange = probeRange(null)): number {
  return range.min + Math.floor(random * (range.max - range.min + 1));
}

/** This machine's ephemeral port range, or null when it cannot be read (not Linux). */
function ephemeralRange(): PortRange | null {
  try {
    return parseEphemeralRange(readFileSync(EPHEMERAL_RANGE_FILE, 'utf8'));
  } catch {
    return null;
  }
}

/** A free port for the probe, in probeRange: never a service's port, never one the kernel hands out. */
function freeDynamicPort(): Promise<number> {
  const range = probeRange(ephemeralRange());
  return new Promise((resolve, reject) => {
    const attempt = (n: number): void => {
      const port = probePortFor(Math.random(), range);
      const srv = createServer();
      srv.once('error', () => (n > 0 ? attempt(n - 1) : reject(new Error(`no free port in ${range.min}–${range.max}`))));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(port)));
    };
    attempt(50);
  });
}

/** How to start a release: argv for node (cluster-capable) or an npm script (fork). */
function commandFor(start: StartSpec, dir: string, port: number): { cmd: string; args: string[] } {
  if (start.script) return { cmd: process.execPath, args: ['--require', PRELOAD, join(dir, start.script), String(port)] };
  return { cmd: 'npm', args: ['run', '--silent', start.npmScript || 'start', '--', String(port)] };
}

/** A probe's process and what it has said so far. */
interface ProbeChild {
  readonly child: ChildProcess;
  readonly port: number;
  log: string;
  readonly listens: Array<{ port: number }>;
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Resolves the pending pause of the probe's poll early: the process said it listens, or it exited. */
  wake: () => void;
}

/**
 * Start the release on `port`, in a process group of its own, recording what it prints and does. With
 * `holdIn`, the process starts there and waits in the preload until released (probe-hold.ts): the
 * release's folder need not be complete yet.
 */
function spawnProbe(dir: string, start: StartSpec, env: NodeJS.ProcessEnv, port: number, holdIn?: string): ProbeChild {
  const { cmd, args } = commandFor(start, dir, port);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, PORT: String(port), PORTSIDE_PROBE: '1', NODE_ENV: 'production', PORTSIDE_ENV_FILE: join(dir, RELEASE_ENV_FILE) };
  if (!start.script) childEnv.NODE_OPTIONS = `${childEnv.NODE_OPTIONS || ''} --require ${PRELOAD}`.trim();
  if (holdIn) childEnv[HOLD_ENV] = dir;
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', 'ipc'];
  if (holdIn) stdio[HOLD_FD] = 'pipe';
  // A process group of its own: `npm start` runs sh, then node (and whatever the app starts); a
  // failed or finished probe must end all of them, or one keeps holding a port.
  const child = spawn(cmd, args, { cwd: holdIn ?? dir, env: childEnv, stdio, detached: true });
  recordProbe(child.pid!);
  const p: ProbeChild = { child, port, log: '', listens: [], exited: null, wake: () => undefined };
  const keep = (d: Buffer): void => {
    p.log = (p.log + d).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('message', (m: { portside?: string; port: number }) => {
    if (m && m.portside === 'listening') p.listens.push(m);
    p.wake();
  });
  child.on('exit', (code, signal) => {
    p.exited = { code, signal };
    p.wake();
  });
  return p;
}

/** A probe started before its release's files were in place, waiting to be released (startProbe) or ended. */
export interface HeldProbe {
  readonly dir: string;
  readonly spawned: ProbeChild;
  /** End it unstarted (the deploy failed before its probe step); safe to call again. */
  end(): Promise<void>;
}

/** Whether the installed preload can hold a probe (one an older agent installed after this one cannot). */
let preloadHolds: boolean | undefined;

/**
 * Start the release's probe now, held before any of its code runs, so that Node's own start-up overlaps
 * the upload; null when it cannot be held (an npm script: npm must find the release's package.json
 * at start; or a preload without the hold). `base` is an existing folder to wait in.
 */
export async function holdProbe(dir: string, start: StartSpec, env: NodeJS.ProcessEnv, base: string): Promise<HeldProbe | null> {
  preloadHolds ??= (() => {
    try {
      return readFileSync(PRELOAD, 'utf8').includes(HOLD_ENV);
    } catch {
      return false;
    }
  })();
  if (!start.script || !preloadHolds) return null;
  const spawned = spawnProbe(dir, start, env, await freeDynamicPort(), base);
  spawned.child.stdio[HOLD_FD]?.on('error', () => {}); // EPIPE when it has died meanwhile: its exit says why
  return { dir, spawned, end: endOnce(spawned) };
}

/** End a probe's whole process group and forget its record, once. */
function endOnce(p: ProbeChild): () => Promise<void> {
  let ended: Promise<void> | undefined;
  return () => (ended ??= endGroup(p.child.pid!).then(() => rmSync(join(PROBES, String(p.child.pid)), { force: true })));
}

/** Let a held probe go on into the release (its folder is complete now). */
function release(held: HeldProbe): ProbeChild {
  (held.spawned.child.stdio[HOLD_FD] as Writable | null)?.end(GO);
  return held.spawned;
}

/** The failure a probe shows so far (crashed, listening elsewhere), or null. */
function probeFailure(p: ProbeChild): AgentError | null {
  if (p.exited) {
    return new AgentError(`the new release crashed at start (${p.exited.signal || `exit code ${p.exited.code}`}) before answering on its port`, `last lines of its output:\n${tail(p.log, 15)}`, 'CRASHED');
  }
  const wrong = p.listens.find((l) => l.port !== p.port);
  if (wrong && !p.listens.some((l) => l.port === p.port)) {
    return new AgentError(`the new release listens on port ${wrong.port}, not on the port it was given (${p.port} for this check; the service's port when live)`,
      'Read the port from process.argv[2] or process.env.PORT, e.g. `const port = process.argv.length > 2 ? process.argv[2] : 3000;`', 'WRONG_PORT');
  }
  return null;
}

/** A probe that answered healthily and is still left running (startProbe): the stay-up check watches it. */
export interface RunningProbe {
  readonly port: number;
  readonly status: number;
  /** The probe's process (the root of its group: node, or npm for an npm script). */
  readonly pid: number;
  /** When it first answered healthily (Date.now()). */
  readonly answeredAt: number;
  /** How it exited, or null while it runs. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** The last lines it printed (stdout and stderr). */
  log(): string;
  /** End its whole process group and forget its record; safe to call again. */
  end(): Promise<void>;
}

/**
 * Start the release on a throwaway port and wait until it answers HTTP. Says exactly what went
 * wrong: crashed (with its log), listened on another port, or listened but never answered.
 */
export async function probe(dir: string, start: StartSpec, env: NodeJS.ProcessEnv, healthPath: string, timeoutMs: number): Promise<{ port: number; status: number }> {
  const p = await startProbe(dir, start, env, healthPath, timeoutMs);
  await p.end();
  return { port: p.port, status: p.status };
}

/**
 * probe(), but a probe that answered is left running, so that whether it stays up after its first answer
 * can be watched while the live process is handed over (the caller ends it). A failed one is ended here.
 */
export async function startProbe(dir: string, start: StartSpec, env: NodeJS.ProcessEnv, healthPath: string, timeoutMs: number, held?: HeldProbe | null): Promise<RunningProbe> {
  const fits = !!held && held.dir === dir;
  const p = fits ? release(held) : spawnProbe(dir, start, env, await freeDynamicPort());
  const end = fits ? held.end : endOnce(p);
  try {
    const status = await firstHealthyAnswer(p, healthPath, timeoutMs);
    return { port: p.port, status, pid: p.child.pid!, answeredAt: Date.now(), exited: () => p.exited, log: () => tail(p.log, 15), end };
  } catch (e) {
    await end();
    throw e;
  }
}

/** Poll the probe until it answers healthily (its status); throws what went wrong otherwise. */
async function firstHealthyAnswer(p: ProbeChild, healthPath: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: number | string | undefined;
  while (Date.now() < deadline) {
    const failed = probeFailure(p);
    if (failed) throw failed;
    const answer = await askHealth(p.port, healthPath, 2000);
    last = answer.status;
    if (healthy(last) && answeredBy(answer, [p.child.pid!], p.port) === null) return last;
    // Polled often: a Node app starts in ~0.1–0.3 s, and every 100 ms of granularity is deploy time;
    // the preload's "listening" message (or an exit) ends the pause at once (~10 ms a deploy).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20);
      p.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    p.wake = () => undefined;
  }
  const listened = p.listens.some((l) => l.port === p.port);
  throw new AgentError(listened
    ? `the new release listens on its port but did not answer GET ${healthPath} with a status below 500 within ${timeoutMs / 1000}s (last: ${last})`
    : `the new release never listened on its port within ${timeoutMs / 1000}s (last check: ${last})`,
  `last lines of its output:\n${tail(p.log, 15)}`, listened ? 'UNHEALTHY' : 'NEVER_LISTENED');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Running probes are recorded by process group, so that the next agent can end the probes of one that
 * was killed (SIGKILL ends the agent but not its probe's group: `npm start` leaves sh and node behind).
 */
function recordProbe(pgid: number): void {
  try {
    mkdirSync(PROBES, { recursive: true, mode: 0o700 });
    writeFileSync(join(PROBES, String(pgid)), new Date().toISOString());
  } catch {
    /* a record is a courtesy to the next agent; the probe itself does not need it */
  }
}

/** End the process groups of probes whose agent died (called under the lock, after a stale one). */
export function endOrphanProbes(): number[] {
  let files: string[];
  try {
    files = readdirSync(PROBES).filter((f) => /^\d+$/.test(f));
  } catch {
    return [];
  }
  const ended: number[] = [];
  for (const f of files) {
    // Only processes of that group that carry the probe's mark: a pid may have been reused since.
    const members = owner.groupMembers(Number(f)).filter((pid) => owner.environOf(pid).includes('PORTSIDE_PROBE=1'));
    for (const pid of members) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    if (members.length) ended.push(Number(f));
    rmSync(join(PROBES, f), { force: true });
  }
  return ended;
}

/** End a process group: SIGINT (the preload drains), SIGKILL after 2 s, and wait until none is left. */
async function endGroup(pgid: number): Promise<void> {
  const signal = (sig: NodeJS.Signals | 0): boolean => {
    try {
      process.kill(-pgid, sig);
      return true;
    } catch {
      return false; // ESRCH: the whole group is gone
    }
  };
  if (!signal('SIGINT')) return;
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    // A probe exits within milliseconds of SIGINT (the preload lingers 0 ms in a probe): look often.
    await sleep(5);
    if (!signal(0)) return;
  }
  signal('SIGKILL');
  while (signal(0) && Date.now() < deadline + 2000) await sleep(20);
}

/**
 * Wait until the live port answers healthily (after pm2 start/reload), then once more a moment later.
 * Only answers from this user's pm2 daemon's processes count: an orphaned worker of a pm2 daemon that
 * lost its home, or a stranger on the port, never passes for the service.
 */
export async function waitHealthy(port: number, healthPath: string, timeoutMs: number, settleMs = 150): Promise<number> {
  const rootPid = pm2DaemonPid();
  const deadline = Date.now() + timeoutMs;
  let last: number | string | undefined;
  let stranger: number | 'unknown' | null = null;
  while (Date.now() < deadline) {
    const answer = await askHealth(port, healthPath, 2000);
    last = answer.status;
    stranger = healthy(last) && rootPid ? answeredBy(answer, [rootPid], port) : null;
    if (healthy(last) && stranger === null) {
      if (!settleMs) return last;
      // An app that exits right after its first answer must not count as deployed (a deploy checks
      // this after its verify step instead, so the wait overlaps with work).
      await sleep(settleMs);
      last = await probeHttp(port, healthPath, 2000);
      if (healthy(last)) return last;
    }
    await sleep(20);
  }
  if (stranger !== null) {
    throw new AgentError(`${strangerMessage(port, stranger, rootPid, 'a process of Portside\'s pm2 daemon')}: another process holds the service's port`,
      'Stop that process (an old copy of the service, or another program), then deploy again; `portside doctor` lists who listens where.', 'PORT_HELD');
  }
  throw new AgentError(`the service did not answer GET ${healthPath} on 127.0.0.1:${port} after it started (last: ${last})`, undefined, 'UNHEALTHY_LIVE');
}

/**
 * Before pm2 starts a service on its port: refuse when something that is not this service's pm2
 * process already listens there (it would answer in the new release's place).
 */
export async function assertPortFree(port: number, proc: Pm2Process | null): Promise<void> {
  if (proc?.pm2_env?.status === 'online' && pm2Port(proc) === port) return;
  if (!(await owner.portInUse(port))) return;
  throw new AgentError(`port ${port} is already in use by ${owner.describeHolders(port) || 'another process'}, not by Portside's pm2`,
    'Stop that process, or deploy the service on another port; `portside doctor` lists who listens where.', 'PORT_HELD');
}

// ---- pm2 ----

/**
 * pm2's process list straight from its daemon (the RPC socket the pm2 CLI itself uses): ~40 ms,
 * against ~200–400 ms for starting the pm2 CLI. Any trouble (another pm2 layout, no daemon yet)
 * falls back to `pm2 jlist`, which also starts the daemon when needed.
 */
export async function pm2List(): Promise<Pm2Process[]> {
  try {
    return await pm2ListRpc();
  } catch {
    return pm2ListCli();
  }
}

/** pm2's vendored RPC modules (untyped JavaScript inside the pm2 installation). */
interface Pm2RpcModules {
  readonly axon: { socket(kind: 'req'): Pm2Socket };
  readonly rpc: { Client: new (sock: Pm2Socket) => { sock: Pm2Socket; call(method: string, arg: unknown, cb: (err: Error | null, result?: unknown) => void): void } };
}
interface Pm2Socket {
  close(): void;
  connect(path: string): void;
  once(event: 'error', fn: (e: Error) => void): void;
  once(event: 'connect', fn: () => void): void;
}

/**
 * Load pm2's RPC modules now (~16 ms, synchronous): a standby agent does it while it waits for its
 * command, so the deploy's first question to pm2 does not block the agent while the CLI plans.
 */
export function warmPm2(): void {
  pm2Rpc();
}

let pm2Modules: Pm2RpcModules | null | undefined;
function pm2Rpc(): Pm2RpcModules | null {
  if (pm2Modules !== undefined) return pm2Modules;
  pm2Modules = null;
  for (const dir of (process.env.PATH || '').split(':')) {
    try {
      const root = resolvePath(realpathSync(join(dir, 'pm2')), '..', '..');
      // Found at run time on the server (pm2's own files): not bundled.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      pm2Modules = { axon: require(join(root, 'modules', 'pm2-axon')), rpc: require(join(root, 'modules', 'pm2-axon-rpc')) };
      break;
    } catch {
      /* not here, or a pm2 without the vendored modules */
    }
  }
  return pm2Modules;
}

/** An error that says the daemon could not be reached (so the caller may fall back to the CLI). */
class Unreachable extends Error {
  readonly connectFailed = true;
}

/** Call a method of the pm2 daemon; rejects with an Unreachable when the daemon could not be reached. */
function pm2Call(method: string, arg: unknown, timeoutMs: number): Promise<unknown> {
  const mods = pm2Rpc();
  if (!mods) return Promise.reject(new Unreachable('pm2 modules not found'));
  const sockFile = join(pm2Home(), 'rpc.sock');
  if (!existsSync(sockFile)) return Promise.reject(new Unreachable('no pm2 daemon'));
  return new Promise((resolve, reject) => {
    const req = mods.axon.socket('req');
    const client = new mods.rpc.Client(req);
    let connected = false;
    const done = (err: Error | null, result?: unknown): void => {
      clearTimeout(timer);
      try {
        req.close();
      } catch {
        /* closing anyway */
      }
      if (err) reject(connected || err instanceof Unreachable ? err : Object.assign(err, { connectFailed: true }));
      else resolve(result);
    };
    const timer = setTimeout(() => done(connected ? new Error(`pm2 did not finish ${method} within ${timeoutMs / 1000}s`) : new Unreachable('pm2 daemon did not answer')), timeoutMs);
    client.sock.once('error', (e) => done(e));
    client.sock.once('connect', () => {
      connected = true;
      client.call(method, arg, done);
    });
    req.connect(sockFile);
  });
}

async function pm2ListRpc(): Promise<Pm2Process[]> {
  const list = await pm2Call('getMonitorData', {}, 2000);
  if (!Array.isArray(list)) throw new Error('no list');
  return list as Pm2Process[];
}

async function pm2ListCli(): Promise<Pm2Process[]> {
  return parsePm2Jlist((await run('pm2', ['jlist'])).stdout);
}

export async function pm2Find(name: string): Promise<Pm2Process | null> {
  return (await pm2List()).find((p) => p.name === name) || null;
}

/** The pm2 app definition (lib/remote/pm2-app.ts): cluster mode for node scripts, with this server's preload. */
export function appConfig(name: string, base: string, start: StartSpec, port: number): Pm2App {
  return pm2App({ name, base, start, port, preload: PRELOAD });
}

/** Start (or restart in place) the service under pm2 from its saved definition. */
export async function pm2StartFresh(base: string, config: Pm2App): Promise<void> {
  const file = join(base, PM2_FILE);
  writeFileSync(file, JSON.stringify({ apps: [config] }, null, 2) + '\n');
  if (await pm2Find(config.name)) await run('pm2', ['delete', config.name]);
  await run('pm2', ['start', file]);
}

/**
 * Reload a cluster-mode process: pm2 starts a new worker, waits for it to listen, then stops the old
 * one. Asked of the daemon directly, as `pm2 reload <name>` does (same method, no changed options),
 * which saves starting the pm2 CLI (~0.2–0.4 s); the CLI is the fallback when the daemon can't be reached.
 * @param known the process as the caller listed it (its pm2 id is used); @default - listed here
 */
export async function pm2Reload(name: string, known?: Pm2Process | null): Promise<void> {
  // The caller's own list of this deploy (under the lock: pm2 ids do not change meanwhile) saves asking the
  // daemon again, which lists every process with its usage (~5 ms at 30 services).
  const listed = known?.name === name && typeof known.pm_id === 'number' ? known : undefined;
  const proc = listed ?? await pm2ListRpc().then((l) => l.find((p) => p.name === name && typeof p.pm_id === 'number'), () => undefined);
  if (proc) {
    try {
      // kill_retry_time: pm2 checks whether the old worker has exited every 100 ms by default; the
      // drain preload lets it exit within milliseconds, so look every 20 ms (~0.1 s per reload).
      await pm2Call('reloadProcessId', { id: proc.pm_id, env: { current_conf: { kill_retry_time: 20 } } }, 60000);
      return;
    } catch (e) {
      if (!(e as { connectFailed?: boolean }).connectFailed) throw new AgentError(`pm2 could not reload ${name}: ${(e as Error).message}`, undefined, 'PM2_RELOAD');
    }
  }
  await run('pm2', ['reload', name]);
}

export async function pm2Save(): Promise<void> {
  await run('pm2', ['save', '--force']);
}
