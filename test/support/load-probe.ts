/**
 * The one load probe of the e2e suites: GET and POST over HTTPS through a front door (the course
 * server's Caddy, the local fleet's load balancer) until stopped, counting every answer that is not the
 * app's whole answer as a failure. test/support/course-load.ts (adopt's suites) and the fleet suites
 * both use it, so a fix to how an answer is judged reaches every suite at once.
 */
import https from 'node:https';

export interface Tally {
  sent: number;
  ok: number;
  /** Requests sent again once, as browsers do, after a reset on a reused keep-alive connection before any answer. */
  retried: string[];
  failures: string[];
}

/** What counts as a right answer to `method` for the host `name` (its status and its whole body). */
export type Accept = (name: string, method: string, status: number | undefined, body: string) => boolean;

export interface ProbeOptions {
  /** The front door's address (the TLS connection goes there; the Host header and SNI name the site). */
  readonly address: string;
  /** The sites asked, each as `<name>.<domain>` (`name` is what `accept` is given). */
  readonly names: readonly string[];
  readonly domain: string;
  readonly accept: Accept;
  /** @default '/' */
  readonly path?: string;
  /** One GET and one POST per name every `everyMs`. @default 20 (100 requests a second per name) */
  readonly everyMs?: number;
  /** The time stamp a failure is listed with. @default - milliseconds since the probe started */
  readonly stamp?: () => string;
}

/** One request; resolves once it is judged (a cut answer, an error and a timeout are judged too). */
function ask(o: ProbeOptions, tally: Tally, agents: { keepAlive: https.Agent; fresh: https.Agent }, stamp: () => string,
  name: string, method: 'GET' | 'POST', again: boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    const host = `${name}.${o.domain}`;
    let answered = false;
    const req = https.request({ host: o.address, port: 443, method, path: o.path ?? '/', servername: host, headers: { host }, agent: again ? agents.fresh : agents.keepAlive, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      answered = true;
      let body = '';
      res.on('data', (c) => { body += c; });
      // An answer cut after its headers never ends: without this the probe would wait on it forever.
      res.on('close', () => {
        if (!res.complete) tally.failures.push(`[${stamp()}] ${method} ${name}: ${res.statusCode} cut after its headers (reused ${req.reusedSocket})`);
        resolve();
      });
      res.on('end', () => {
        if (o.accept(name, method, res.statusCode, body)) tally.ok++;
        else tally.failures.push(`[${stamp()}] ${method} ${name}: ${res.statusCode} ${JSON.stringify(body.slice(0, 80))} (content-length ${res.headers['content-length']}, reused ${req.reusedSocket})`);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (answered) return; // the answer's close judges it
      // Node's req.reusedSocket: the request went out on a kept-alive connection the other end closed;
      // browsers send such a request again on a new connection, once. Never one that got an answer.
      if (!again && req.reusedSocket && e.code === 'ECONNRESET') {
        tally.retried.push(`[${stamp()}] ${method} ${name}: ${e.message}`);
        return void ask(o, tally, agents, stamp, name, method, true).then(resolve);
      }
      tally.failures.push(`[${stamp()}] ${method} ${name}: ${e.message}`);
      resolve();
    });
    req.end(method === 'POST' ? 'x'.repeat(200) : undefined);
  });
}

/** Start the probe; `stop()` ends it, waits for the requests in flight and gives the counts. */
export function loadProbe(o: ProbeOptions): { stop: () => Promise<Tally> } {
  const agents = { keepAlive: new https.Agent({ keepAlive: true, maxSockets: 16 }), fresh: new https.Agent({ keepAlive: false }) };
  const tally: Tally = { sent: 0, ok: 0, retried: [], failures: [] };
  const t0 = Date.now();
  const stamp = o.stamp ?? (() => `${Date.now() - t0} ms`);
  const inFlight = new Set<Promise<void>>();
  const send = (name: string, method: 'GET' | 'POST'): void => {
    tally.sent++;
    const p = ask(o, tally, agents, stamp, name, method, false);
    inFlight.add(p);
    void p.then(() => inFlight.delete(p));
  };
  const timer = setInterval(() => o.names.forEach((n) => { send(n, 'GET'); send(n, 'POST'); }), o.everyMs ?? 20);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      agents.keepAlive.destroy();
      agents.fresh.destroy();
      return tally;
    },
  };
}
