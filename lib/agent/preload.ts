// Loaded into every service with `node --require` (pm2 node_args); scripts/build.js bundles it into
// dist/server/preload.js. It runs inside every service's process, so it imports nothing but Node's
// own modules and pure files of this repository. It makes four promises the service itself never has
// to know about:
// 1. loopback only: a server that listens on all interfaces is bound to 127.0.0.1 (loopback.ts);
// 2. graceful handover: on SIGINT/SIGTERM (pm2 reload/stop) it stops accepting, lets in-flight
//    requests finish with `Connection: close`, closes keep-alive sockets once they have been idle a
//    moment (idle-connections.ts says why not at once), then exits;
// 3. the release's env file is loaded into process.env without any shell (service-env.ts);
// 4. identity: Portside's own health checks are answered with this process's pid.
// It also reports what the app listened on to the Portside agent when run as a probe (IPC), and holds a
// probe started ahead of its files until they are in place (probe-hold.ts).
import * as fs from 'fs';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { HEALTH_TOKEN_FILE } from '../remote/layout';
import { IDLE_CLOSE_MS, IdleConnections } from './idle-connections';
import { toLoopback } from './loopback';
import { VERIFY_HEADER } from './verify-request';
import { envAdditions, envFileName, parseEnv } from './service-env';
import { holdUntilGo } from './probe-hold';

export { parseEnv, toLoopback };

const DRAIN_MS = Number(process.env.PORTSIDE_DRAIN_MS || 4000);
const servers = new Set<net.Server>();
const connections = new Map<net.Server, IdleConnections>();
let draining = false;

// A probe started ahead of its files waits here (probe-hold.ts); everything below runs once they are in place.
holdUntilGo();
loadEnvFile(envFileName(process.env, process.cwd()));

function loadEnvFile(file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return;
  }
  for (const [key, value] of envAdditions(text, process.env)) process.env[key] = value;
}

type Listen = (this: net.Server, ...args: unknown[]) => net.Server;
const originalListen = net.Server.prototype.listen as unknown as Listen;
(net.Server.prototype as unknown as { listen: Listen }).listen = function portsideListen(this: net.Server, ...args: unknown[]): net.Server {
  servers.add(this);
  this.once('listening', () => report(this));
  if (typeof this.on === 'function' && this.constructor && /Server/.test(this.constructor.name)) {
    const idle = new IdleConnections();
    connections.set(this, idle);
    // First in line, before the app's own handler answers (an app may end the response at once).
    (this as HttpServer).prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      // Draining: the client opens its next request elsewhere. The agent's verify: Caddy's upstream
      // connection should not be left idle in this worker for the next deploy's drain (verify-request.ts).
      if ((draining || req.headers[VERIFY_HEADER]) && !res.headersSent) res.setHeader('Connection', 'close');
      idle.track(req, res);
      identify(req, res);
    });
  }
  return originalListen.apply(this, toLoopback(args));
};

// 4. identity: the agent's health checks carry the server's health token (a file only the deploy user
//    can read); such a request is answered with this process's pid, so a deploy can tell that the
//    answer came from the release it started — not from an orphaned worker or a stranger on the port.
const TOKEN_FILE = path.join(os.homedir(), HEALTH_TOKEN_FILE);
let token: string | undefined;
function identify(req: IncomingMessage, res: ServerResponse): void {
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

function report(server: net.Server): void {
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
const exitSoon = (): void => {
  setTimeout(() => process.exit(0), LINGER_MS);
};

/**
 * Stop accepting, let in-flight requests finish (answered with `Connection: close`), close keep-alive
 * sockets once idle for IDLE_CLOSE_MS, then exit (at most DRAIN_MS).
 */
function drain(): void {
  if (draining) return;
  draining = true;
  const timer = setTimeout(() => process.exit(0), DRAIN_MS);
  timer.unref();
  let open = 0;
  for (const server of servers) {
    if (!server.listening) continue;
    open++;
    stopListening(server, () => {
      if (--open === 0) exitSoon();
    });
    const idle = connections.get(server);
    if (!idle) continue;
    // Sweep now too: a connection already idle that long need not wait for the first tick (up to 50 ms).
    const sweep = (): number => idle.closeIdle(Date.now(), IDLE_CLOSE_MS);
    sweep();
    setInterval(sweep, 50).unref();
  }
  if (open === 0) exitSoon();
}

/**
 * Close the listening socket; `done` runs once every connection has ended. An HTTP server's own close()
 * (Node ≥ 19) would also close every idle keep-alive connection at once, racing a request being written
 * on one: net.Server's close stops listening only, and the sweep in drain() closes idle connections.
 */
function stopListening(server: net.Server, done: () => void): void {
  if (connections.has(server)) net.Server.prototype.close.call(server, done);
  else server.close(done);
}

// Only take over shutdown when the app has not: an app with its own handler knows best. An app that
// listens for the same signal still gets it; we only decide when the process ends.
setImmediate(() => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    if (process.listenerCount(sig) === 0) process.on(sig, () => drain());
  }
});
if (process.env.PORTSIDE_PROBE && process.send) {
  // A probe dies with the agent that started it, even if the agent is killed.
  process.on('disconnect', () => process.exit(0));
}
