'use strict';
// Processes: the probe (the new release on a transient port, before anything switches), pm2 (the
// service on its own port), and HTTP health checks.
const fs = require('fs');
const path = require('path');
const os = require('os');
const http = require('http');
const net = require('net');
const { spawn } = require('child_process');
const { run, tail } = require('./run');
const { AgentError } = require('./protocol');
const owner = require('./port-owner');

const PRELOAD = path.join(os.homedir(), '.portside', 'bin', 'preload.js');

/** GET 127.0.0.1:port+path once; resolves the status code, or an error code string. */
async function probeHttp(port, urlPath, timeoutMs = 3000, host = '127.0.0.1') {
  return (await askHealth(port, urlPath, timeoutMs, host)).status;
}

/**
 * GET 127.0.0.1:port+path once with the health token; resolves the status (or an error code string)
 * and the pid of the process that answered, when it runs Portside's preload (else null).
 */
function askHealth(port, urlPath, timeoutMs = 3000, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const headers = { 'user-agent': 'portside-health', 'x-portside-health': healthToken() };
    const req = http.get({ host, port, path: urlPath, timeout: timeoutMs, headers }, (res) => {
      res.resume();
      const pid = Number(res.headers['x-portside-pid']);
      resolve({ status: res.statusCode, pid: Number.isInteger(pid) && pid > 0 ? pid : null });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => resolve({ status: e.code || 'ERROR', pid: null }));
  });
}

let token;
/** The server's health token (made once, readable by the deploy user only; see preload.js). */
function healthToken() {
  if (token) return token;
  const file = path.join(os.homedir(), '.portside', 'health-token');
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch {
    token = '';
  }
  if (!token) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, require('crypto').randomBytes(16).toString('hex'), { mode: 0o600 });
    try {
      fs.linkSync(tmp, file); // never replace a token another agent made a moment ago
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    token = fs.readFileSync(file, 'utf8').trim();
  }
  return token;
}

/**
 * Whether an answer came from the process we started (`root`, or a process under it: `npm start` runs
 * node under sh). An answer without a pid comes from a process without Portside's preload: accepted only
 * when the port's listening socket is held by `root`'s tree or by pm2's daemon (cluster mode), so an
 * orphan or a stranger on the port is never taken for the new release.
 */
function answeredBy(answer, roots, port) {
  const ours = (pid) => roots.some((root) => root && owner.isSameOrDescendant(pid, root));
  if (answer.pid) return ours(answer.pid) ? null : answer.pid;
  const { pids } = owner.listenerPids(port);
  const daemon = pm2DaemonPid();
  if (pids.length && pids.every((p) => ours(p) || p === daemon)) return null;
  return pids[0] || 'unknown';
}

function pm2DaemonPid() {
  try {
    return Number(fs.readFileSync(path.join(process.env.PM2_HOME || path.join(os.homedir(), '.pm2'), 'pm2.pid'), 'utf8'));
  } catch {
    return 0;
  }
}

/** The message for an answer that came from someone else: who answered, and who should have. */
function strangerMessage(port, stranger, root, what) {
  const who = stranger === 'unknown' ? (owner.describeHolders(port) || 'a process that is gone') : `pid ${stranger} (${owner.commandLine(stranger) || 'gone'})`;
  return `127.0.0.1:${port} is answered by ${who}, not by ${what} (pid ${root})`;
}

const healthy = (status) => typeof status === 'number' && status < 500;

/** A free port in the dynamic range (49152–65535), for the probe: never a service's port. */
function freeDynamicPort() {
  return new Promise((resolve, reject) => {
    const attempt = (n) => {
      const port = 49152 + Math.floor(Math.random() * 16000);
      const srv = net.createServer();
      srv.once('error', () => (n > 0 ? attempt(n - 1) : reject(new Error('no free port in 49152–65535'))));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(port)));
    };
    attempt(50);
  });
}

/** How to start a release: argv for node (cluster-capable) or an npm script (fork). */
function commandFor(start, dir, port) {
  if (start.script) {
    return { cmd: process.execPath, args: ['--require', PRELOAD, path.join(dir, start.script), String(port)] };
  }
  return { cmd: 'npm', args: ['run', '--silent', start.npmScript || 'start', '--', String(port)] };
}

/**
 * Start the release on a throwaway port and wait until it answers HTTP. Says exactly what went
 * wrong: crashed (with its log), listened on another port, or listened but never answered.
 */
async function probe(dir, start, env, healthPath, timeoutMs) {
  const port = await freeDynamicPort();
  const { cmd, args } = commandFor(start, dir, port);
  const childEnv = { ...process.env, ...env, PORT: String(port), PORTSIDE_PROBE: '1', NODE_ENV: 'production', PORTSIDE_ENV_FILE: path.join(dir, '.portside.env') };
  if (!start.script) childEnv.NODE_OPTIONS = `${childEnv.NODE_OPTIONS || ''} --require ${PRELOAD}`.trim();
  // A process group of its own: `npm start` runs sh, then node (and whatever the app starts); a
  // failed or finished probe must end all of them, or one keeps holding a port.
  const child = spawn(cmd, args, { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
  recordProbe(child.pid);
  let log = '';
  const keep = (d) => {
    log = (log + d).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const listens = [];
  child.on('message', (m) => m && m.portside === 'listening' && listens.push(m));
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const deadline = Date.now() + timeoutMs;
  let last;
  try {
    while (Date.now() < deadline) {
      if (exited) {
        throw new AgentError(`the new release crashed at start (${exited.signal || `exit code ${exited.code}`}) before answering on its port`, `last lines of its output:\n${tail(log, 15)}`, 'CRASHED');
      }
      const wrong = listens.find((l) => l.port !== port);
      if (wrong && !listens.some((l) => l.port === port)) {
        throw new AgentError(`the new release listens on port ${wrong.port}, not on the port it was given (${port} for this check; the service's port when live)`,
          'Read the port from process.argv[2] or process.env.PORT, e.g. `const port = process.argv.length > 2 ? process.argv[2] : 3000;`', 'WRONG_PORT');
      }
      const answer = await askHealth(port, healthPath, 2000);
      last = answer.status;
      if (healthy(last) && answeredBy(answer, [child.pid], port) === null) return { port, status: last };
      // Polled often: a Node app starts in ~0.1–0.3 s, and every 100 ms of granularity is deploy time.
      await new Promise((r) => setTimeout(r, 20));
    }
    const listened = listens.some((l) => l.port === port);
    throw new AgentError(listened
      ? `the new release listens on its port but did not answer GET ${healthPath} with a status below 500 within ${timeoutMs / 1000}s (last: ${last})`
      : `the new release never listened on its port within ${timeoutMs / 1000}s (last check: ${last})`,
    `last lines of its output:\n${tail(log, 15)}`, listened ? 'UNHEALTHY' : 'NEVER_LISTENED');
  } finally {
    await endGroup(child.pid);
    fs.rmSync(path.join(PROBES, String(child.pid)), { force: true });
  }
}

/**
 * Running probes are recorded by process group, so that the next agent can end the probes of one that
 * was killed (SIGKILL ends the agent but not its probe's group: `npm start` leaves sh and node behind).
 */
const PROBES = path.join(os.homedir(), '.portside', 'probes');
function recordProbe(pgid) {
  try {
    fs.mkdirSync(PROBES, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(PROBES, String(pgid)), new Date().toISOString());
  } catch {
    /* a record is a courtesy to the next agent; the probe itself does not need it */
  }
}

/** End the process groups of probes whose agent died (called under the lock, after a stale one). */
function endOrphanProbes() {
  const ended = [];
  let files = [];
  try {
    files = fs.readdirSync(PROBES).filter((f) => /^\d+$/.test(f));
  } catch {
    return ended;
  }
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
    fs.rmSync(path.join(PROBES, f), { force: true });
  }
  return ended;
}

/** End a process group: SIGINT (the preload drains), SIGKILL after 2 s, and wait until none is left. */
async function endGroup(pgid) {
  const signal = (sig) => {
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
    await new Promise((r) => setTimeout(r, 20));
    if (!signal(0)) return;
  }
  signal('SIGKILL');
  while (signal(0) && Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Wait until the live port answers healthily (after pm2 start/reload), then once more a moment later.
 * Only answers from this user's pm2 daemon's processes count: an orphaned worker of a pm2 daemon that
 * lost its home, or a stranger on the port, never passes for the service.
 */
async function waitHealthy(port, healthPath, timeoutMs, settleMs = 150) {
  const rootPid = pm2DaemonPid();
  const deadline = Date.now() + timeoutMs;
  let last;
  let stranger = null;
  while (Date.now() < deadline) {
    const answer = await askHealth(port, healthPath, 2000);
    last = answer.status;
    stranger = healthy(last) && rootPid ? answeredBy(answer, [rootPid], port) : null;
    if (healthy(last) && stranger === null) {
      if (!settleMs) return last;
      // An app that exits right after its first answer must not count as deployed (a deploy checks
      // this after its verify step instead, so the wait overlaps with work).
      await new Promise((r) => setTimeout(r, settleMs));
      last = await probeHttp(port, healthPath, 2000);
      if (healthy(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 20));
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
async function assertPortFree(port, proc) {
  if (proc && proc.pm2_env.status === 'online' && portOf(proc) === port) return;
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
async function pm2List() {
  try {
    return await pm2ListRpc();
  } catch {
    return pm2ListCli();
  }
}

let pm2Modules;
function pm2Rpc() {
  if (pm2Modules === undefined) {
    pm2Modules = null;
    for (const dir of (process.env.PATH || '').split(':')) {
      try {
        const root = path.resolve(fs.realpathSync(path.join(dir, 'pm2')), '..', '..');
        pm2Modules = { axon: require(path.join(root, 'modules', 'pm2-axon')), rpc: require(path.join(root, 'modules', 'pm2-axon-rpc')) };
        break;
      } catch {
        /* not here, or a pm2 without the vendored modules */
      }
    }
  }
  return pm2Modules;
}

/** Call a method of the pm2 daemon; rejects with `connectFailed` set when the daemon could not be reached. */
function pm2Call(method, arg, timeoutMs) {
  const mods = pm2Rpc();
  const unreachable = (msg) => Object.assign(new Error(msg), { connectFailed: true });
  if (!mods) return Promise.reject(unreachable('pm2 modules not found'));
  const sockFile = path.join(process.env.PM2_HOME || path.join(os.homedir(), '.pm2'), 'rpc.sock');
  if (!fs.existsSync(sockFile)) return Promise.reject(unreachable('no pm2 daemon'));
  return new Promise((resolve, reject) => {
    const req = mods.axon.socket('req');
    const client = new mods.rpc.Client(req);
    let connected = false;
    const done = (err, result) => {
      clearTimeout(timer);
      try {
        req.close();
      } catch {
        /* closing anyway */
      }
      if (err) reject(connected ? err : Object.assign(err, { connectFailed: true }));
      else resolve(result);
    };
    const timer = setTimeout(() => done(connected ? new Error(`pm2 did not finish ${method} within ${timeoutMs / 1000}s`) : unreachable('pm2 daemon did not answer')), timeoutMs);
    client.sock.once('error', (e) => done(e));
    client.sock.once('connect', () => {
      connected = true;
      client.call(method, arg, done);
    });
    req.connect(sockFile);
  });
}

async function pm2ListRpc() {
  const list = await pm2Call('getMonitorData', {}, 2000);
  if (!Array.isArray(list)) throw new Error('no list');
  return list;
}

async function pm2ListCli() {
  const { stdout } = await run('pm2', ['jlist']);
  // The first call also prints "[PM2] Spawning PM2 daemon…" lines: the list is the line that parses.
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('[')) continue;
    try {
      return JSON.parse(line);
    } catch {
      /* a log line that starts with "[" */
    }
  }
  return [];
}

async function pm2Find(name) {
  return (await pm2List()).find((p) => p.name === name) || null;
}

/** The pm2 app definition: cluster mode (pm2 holds the socket and reloads without a gap) for node scripts. */
function appConfig(name, base, start, port) {
  const cwd = path.join(base, 'current');
  const common = {
    name,
    cwd,
    args: [String(port)],
    env: { PORT: String(port), NODE_ENV: 'production', PORTSIDE_SERVICE: name, PORTSIDE_ENV_FILE: path.join(cwd, '.portside.env') },
    kill_timeout: 5000,
    listen_timeout: 10000,
    max_restarts: 10,
    min_uptime: 2000,
    merge_logs: true,
    time: true,
  };
  if (start.script) {
    return { ...common, script: path.join(cwd, start.script), exec_mode: 'cluster', instances: 1, node_args: ['--require', PRELOAD] };
  }
  return {
    ...common,
    script: 'npm',
    args: ['run', start.npmScript || 'start', '--', String(port)],
    exec_mode: 'fork',
    env: { ...common.env, NODE_OPTIONS: `--require ${PRELOAD}` },
  };
}

function portOf(proc) {
  const env = (proc && proc.pm2_env) || {};
  return Number((env.env && env.env.PORT) || env.PORT);
}

/** Start (or restart in place) the service under pm2 from its saved definition. */
async function pm2StartFresh(base, config) {
  const file = path.join(base, 'pm2.json');
  fs.writeFileSync(file, JSON.stringify({ apps: [config] }, null, 2) + '\n');
  const existing = await pm2Find(config.name);
  if (existing) await run('pm2', ['delete', config.name]);
  await run('pm2', ['start', file]);
}

/**
 * Reload a cluster-mode process: pm2 starts a new worker, waits for it to listen, then stops the old
 * one. Asked of the daemon directly, as `pm2 reload <name>` does (same method, no changed options),
 * which saves starting the pm2 CLI (~0.2–0.4 s); the CLI is the fallback when the daemon can't be reached.
 */
async function pm2Reload(name) {
  let proc;
  try {
    proc = (await pm2ListRpc()).find((p) => p.name === name && typeof p.pm_id === 'number');
  } catch {
    proc = null;
  }
  if (proc) {
    try {
      // kill_retry_time: pm2 checks whether the old worker has exited every 100 ms by default; the
      // drain preload lets it exit within milliseconds, so look every 20 ms (~0.1 s per reload).
      await pm2Call('reloadProcessId', { id: proc.pm_id, env: { current_conf: { kill_retry_time: 20 } } }, 60000);
      return;
    } catch (e) {
      if (!e.connectFailed) throw new AgentError(`pm2 could not reload ${name}: ${e.message}`, undefined, 'PM2_RELOAD');
    }
  }
  await run('pm2', ['reload', name]);
}

async function pm2Save() {
  await run('pm2', ['save', '--force']);
}

module.exports = { probe, endOrphanProbes, probeHttp, askHealth, answeredBy, pm2DaemonPid, strangerMessage, assertPortFree, waitHealthy, pm2List, pm2Find, appConfig, portOf, pm2StartFresh, pm2Reload, pm2Save, healthy, PRELOAD };
