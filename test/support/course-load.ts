/**
 * Load through the course server's Caddy while a command runs, and the CLI with its stderr lines
 * stamped on the same clock (which step a failure belongs to). The same probe as
 * test/e2e/adopt-apply.test.ts's, as a module other suites can import.
 */
import { ChildProcess, spawn } from 'node:child_process';
import https from 'node:https';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../lib/package-root';
import type { CliResult, CourseServer } from './course-server';

const t0 = Date.now();
/** Seconds since this module was loaded: the clock of the probe's failures and of timedPortside's lines. */
export const at = (): string => `${((Date.now() - t0) / 1000).toFixed(2)}s`;

export interface Tally {
  sent: number;
  ok: number;
  /** Requests sent again once, as browsers do, after a reset on a reused keep-alive connection before any answer. */
  retried: string[];
  failures: string[];
}

/** Something done to the CLI when one of its stderr lines matches `when` (once): a kill, a cut connection. */
export interface AtLine {
  readonly when: RegExp;
  readonly act: (child: ChildProcess) => void;
}

/** The real CLI with `home` as its Portside home, each stderr line stamped with at(); killed at once when a line matches `killAt` (a RegExp), or `killAt.act` done then. */
export function timedPortside(home: string, killAt: RegExp | AtLine | null, ...args: string[]): Promise<CliResult> {
  const atLine: AtLine | null = killAt instanceof RegExp ? { when: killAt, act: (child) => child.kill('SIGKILL') } : killAt;
  let acted = false;
  const env: NodeJS.ProcessEnv = { ...process.env, PORTSIDE_HOME: home };
  delete env.PORTSIDE_KEY;
  delete env.PORTSIDE_TARGET;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'portside.js'), ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => {
      const lines = c.toString().split('\n').filter(Boolean);
      stderr += lines.map((l) => `[${at()}] ${l}\n`).join('');
      if (atLine && !acted && lines.some((l) => atLine.when.test(l))) {
        acted = true;
        atLine.act(child);
      }
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** What counts as a right answer from `name` to `method` (the default: a 200 whose JSON names the service and the method). */
export type Accept = (name: string, method: string, status: number | undefined, body: string) => boolean;

const serviceAnswered: Accept = (name, method, status, body) => status === 200 && body.includes(`"method":"${method}"`) && body.includes(`"service":"${name}"`);

/**
 * GET and POST to each service through Caddy (HTTPS, `<name>.<domain>`) every `everyMs` until stopped.
 * Every Caddy 2.6.2 reload closes the idle keep-alive connections of the old configuration; a request
 * written on one at that instant is reset before any answer. Browsers send such a request again on a
 * new connection (Node documents `req.reusedSocket` for the same); so does this probe, once, and
 * reports it apart. Anything else that is not `accept`ed is a failure.
 */
export function loadProbe(server: CourseServer, services: readonly string[], opts: { everyMs?: number; accept?: Accept } = {}): { stop: () => Promise<Tally> } {
  const accept = opts.accept ?? serviceAnswered;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  const fresh = new https.Agent({ keepAlive: false });
  const tally: Tally = { sent: 0, ok: 0, retried: [], failures: [] };
  const inFlight = new Set<Promise<void>>();
  const once = (name: string, method: 'GET' | 'POST', retry: boolean): Promise<void> => new Promise<void>((resolve) => {
    const host = `${name}.${server.domain}`;
    const req = https.request({ host: server.address, port: 443, method, path: '/probe', servername: host, headers: { host }, agent: retry ? agent : fresh, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (accept(name, method, res.statusCode, body)) tally.ok++;
        else tally.failures.push(`[${at()}] ${method} ${name}: ${res.statusCode} ${body.slice(0, 80)}`);
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (retry && req.reusedSocket && (e.code === 'ECONNRESET' || e.message === 'socket hang up')) {
        tally.retried.push(`[${at()}] ${method} ${name}: ${e.message}`);
        return void once(name, method, false).then(resolve);
      }
      tally.failures.push(`[${at()}] ${method} ${name}: ${e.message}`);
      resolve();
    });
    req.end(method === 'POST' ? 'x'.repeat(200) : undefined);
  });
  const ask = (name: string, method: 'GET' | 'POST'): void => {
    tally.sent++;
    const p = once(name, method, true);
    inFlight.add(p);
    void p.then(() => inFlight.delete(p));
  };
  const timer = setInterval(() => services.forEach((s) => { ask(s, 'GET'); ask(s, 'POST'); }), opts.everyMs ?? 20);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      agent.destroy();
      fresh.destroy();
      return tally;
    },
  };
}

/** One GET through Caddy to `<name>.<domain><path>`: status and body. */
export function getThroughCaddy(server: CourseServer, name: string | null, path = '/'): Promise<{ status: number; body: string }> {
  const host = name ? `${name}.${server.domain}` : server.domain;
  return new Promise((resolve, reject) => {
    https.get({ host: server.address, port: 443, path, servername: host, headers: { host }, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).on('timeout', function (this: { destroy: (e: Error) => void }) { this.destroy(new Error('timeout')); });
  });
}
