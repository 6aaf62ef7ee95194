'use strict';
// Loaded into every service with `node --require` (pm2 node_args). It makes three promises the
// service itself never has to know about:
// 1. loopback only: a server that listens on all interfaces is bound to 127.0.0.1, so the only way
//    in from outside is Caddy;
// 2. graceful handover: on SIGINT/SIGTERM (pm2 reload/stop) it stops accepting, lets in-flight
//    requests finish with `Connection: close`, closes idle keep-alive sockets, then exits;
// 3. the release's env file (`.portside.env`, mode 0600) is loaded into process.env without any shell.
// It also reports what the app listened on to the Portside agent when run as a probe (IPC).
const net = require('net');
const fs = require('fs');
const path = require('path');

const DRAIN_MS = Number(process.env.PORTSIDE_DRAIN_MS || 4000);
const servers = new Set();

// pm2 changes into the app's folder only after preloads run, so the agent names the file. In cluster
// mode pm2 hands a worker its environment as one JSON variable that it unpacks after preloads, too.
loadEnvFile(envFileName());

function envFileName() {
  if (process.env.PORTSIDE_ENV_FILE) return process.env.PORTSIDE_ENV_FILE;
  try {
    const pm2 = JSON.parse(process.env.pm2_env || '{}');
    const file = pm2.PORTSIDE_ENV_FILE || (pm2.env && pm2.env.PORTSIDE_ENV_FILE);
    if (file) return file;
    if (pm2.pm_cwd) return path.join(pm2.pm_cwd, '.portside.env');
  } catch {
    /* not under pm2 */
  }
  return path.join(process.cwd(), '.portside.env');
}

const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function portsideListen(...args) {
  args = toLoopback(args);
  servers.add(this);
  this.once('listening', () => report(this));
  if (typeof this.on === 'function' && this.constructor && /Server/.test(this.constructor.name)) {
    // First in line, before the app's own handler answers (an app may end the response at once).
    this.prependListener('request', (req, res) => {
      if (draining && !res.headersSent) res.setHeader('Connection', 'close');
      identify(req, res);
    });
  }
  return originalListen.apply(this, args);
};

// 4. identity: the agent's health checks carry the server's health token (a file only the deploy user
//    can read); such a request is answered with this process's pid, so a deploy can tell that the
//    answer came from the release it started — not from an orphaned worker or a stranger on the port.
const TOKEN_FILE = path.join(require('os').homedir(), '.portside', 'health-token');
let token;
function identify(req, res) {
  const asked = req.headers['x-portside-health'];
  if (!asked || res.headersSent) return;
  if (token === undefined) {
    try {
      token = fs.readFileSync(TOKEN_FILE, 'utf8').trim();
    } catch {
      token = '';
    }
  }
  if (token && asked === token) res.setHeader('X-Portside-Pid', String(process.pid));
}

function toLoopback(args) {
  const wide = (h) => h === undefined || h === null || h === '' || h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0';
  const first = args[0];
  if (first && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path !== undefined || first.fd !== undefined || first._handle || first.handle) return args;
    if (wide(first.host)) return [{ ...first, host: '127.0.0.1' }, ...args.slice(1)];
    return args;
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^[0-9]+$/.test(first))) {
    if (typeof args[1] === 'string' || args[1] === null || args[1] === undefined) {
      if (args.length >= 2 && typeof args[1] !== 'function' && !wide(args[1])) return args;
      const rest = args.length >= 2 && typeof args[1] !== 'function' ? args.slice(2) : args.slice(1);
      return [first, '127.0.0.1', ...rest];
    }
    if (typeof args[1] === 'function' || typeof args[1] === 'number') return [first, '127.0.0.1', ...args.slice(1)];
  }
  return args;
}

function report(server) {
  const addr = server.address();
  if (addr && typeof addr === 'object' && process.send && process.env.PORTSIDE_PROBE) {
    process.send({ portside: 'listening', port: addr.port, address: addr.address });
  }
}

// After its servers have closed, a worker lingers a moment before it exits. In pm2's cluster mode the
// daemon accepts connections and hands them to workers over IPC; a hand-off sent just before the
// daemon learned that this worker closed its server is still in flight. A live worker refuses it and
// the daemon passes it to the new worker; a worker that has already exited strands it, and the client
// hangs until it times out (seen: 2 requests hung in 30 redeploys under load without the linger).
// The hand-off window is an IPC round trip (well under a millisecond); 30 ms is ample. A probe (not
// under pm2) has no daemon handing it connections.
const LINGER_MS = process.env.PORTSIDE_PROBE ? 0 : Number(process.env.PORTSIDE_LINGER_MS || 30);
const exitSoon = () => setTimeout(() => process.exit(0), LINGER_MS);

let draining = false;
function drain(signal) {
  if (draining) return;
  draining = true;
  const timer = setTimeout(() => process.exit(0), DRAIN_MS);
  timer.unref();
  let open = 0;
  for (const server of servers) {
    if (!server.listening) continue;
    open++;
    server.close(() => {
      if (--open === 0) exitSoon();
    });
    if (typeof server.closeIdleConnections === 'function') {
      server.closeIdleConnections();
      // Keep-alive sockets that finish a request while we drain become idle later: close them too.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      sweep.unref();
    }
  }
  if (open === 0) exitSoon();
  // An app that listens for the same signal still gets it; we only decide when the process ends.
  void signal;
}

// Only take over shutdown when the app has not: an app with its own handler knows best.
setImmediate(() => {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    if (process.listenerCount(sig) === 0) process.on(sig, () => drain(sig));
  }
});
if (process.env.PORTSIDE_PROBE && process.send) {
  // A probe dies with the agent that started it, even if the agent is killed.
  process.on('disconnect', () => process.exit(0));
}

function loadEnvFile(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return;
  }
  for (const [key, value] of parseEnv(text)) {
    if (process.env[key] === undefined) process.env[key] = value;
  }
}

/**
 * KEY=value lines; '#' comments; one matching pair of quotes around a value is removed and nothing else
 * is processed (no escapes, no $NAME, no inline comments). The CLI's lib/deploy/env-rules.ts has the
 * same rule, checked against this function on a shared table of cases.
 */
function parseEnv(text) {
  const out = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2];
    if (v.length >= 2 && ((v[0] === '"' && v.endsWith('"')) || (v[0] === "'" && v.endsWith("'")))) {
      v = v.slice(1, -1);
    }
    out.push([m[1], v]);
  }
  return out;
}

module.exports = { parseEnv, toLoopback };
