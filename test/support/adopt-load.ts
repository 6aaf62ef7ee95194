/**
 * What adopt's e2e suites share: the real CLI with its stderr lines stamped on the probe's clock (and
 * something done to it at a given line: a kill, a stop, a cut connection), the load probe through
 * Caddy, and the server's state as adopt and undo promise it (Caddyfile bytes, pm2's processes, the
 * adopt run's log on the server).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { ADOPT_LOG } from '../../lib/adopt/on-server/messages';
import { PACKAGE_ROOT } from '../../lib/package-root';
import { onServer } from '../../lib/remote/layout';
import { CliResult, coursePm2, CourseServer, hostPathOf, ON_SERVER } from './course-server';

export interface Tally {
  sent: number;
  ok: number;
  /** Requests sent again once, as browsers do, after a reset on a reused keep-alive connection before any answer (see loadProbe). */
  retried: string[];
  failures: string[];
}

const t0 = Date.now();
/** Seconds since this module loaded: the one clock of the CLI's lines and the probe's failures. */
export const at = (): string => `${((Date.now() - t0) / 1000).toFixed(2)}s`;

/** Something done to the CLI when a stderr line matches `when` (once). */
export interface AtLine {
  readonly when: RegExp;
  readonly act: (child: ChildProcess) => void;
}

/** The real CLI with `home` as its Portside home, each stderr line stamped with the time it arrived; `atLine` acts on it at a line. */
export function timedPortside(home: string, args: readonly string[], atLine?: AtLine, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORTSIDE_HOME: home, ...env };
  delete childEnv.PORTSIDE_KEY;
  delete childEnv.PORTSIDE_TARGET;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'portside.js'), ...args], { env: childEnv });
    let stdout = '';
    let stderr = '';
    let acted = false;
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => {
      const lines = c.toString().split('\n').filter(Boolean);
      stderr += lines.map((l) => `[${at()}] ${l}\n`).join('');
      if (atLine && !acted && lines.some((l) => atLine.when.test(l))) {
        acted = true;
        atLine.act(child);
      }
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/** The CLI killed with SIGKILL as soon as a stderr line matches `when` (a step's announcement). */
export const killedAt = (when: RegExp): AtLine => ({ when, act: (child) => child.kill('SIGKILL') });

/**
 * GET and POST to each service through Caddy every `everyMs` until stopped; each answer must be a 200
 * from that service (or simon's redeployed release). Every Caddy 2.6.2 reload closes the idle
 * keep-alive connections of the old configuration; a request written on one at that instant is reset
 * before any answer (measured: 0–6 requests in a reload, also when nothing but the Caddyfile changes).
 * Browsers send such a request again on a new connection (Node documents `req.reusedSocket` for the
 * same); so does this probe, once, on a new connection, and reports it apart. Anything else is a failure.
 */
export function loadProbe(server: CourseServer, services: readonly string[], everyMs = 20): { stop: () => Promise<Tally> } {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  // A request sent again goes on a new connection: another pooled one may be closing in the same reload.
  const fresh = new https.Agent({ keepAlive: false });
  const tally: Tally = { sent: 0, ok: 0, retried: [], failures: [] };
  const inFlight = new Set<Promise<void>>();
  const once = (name: string, method: 'GET' | 'POST', retry: boolean): Promise<void> => new Promise<void>((resolve) => {
    const req = https.request({ host: server.address, port: 443, method, path: '/probe', servername: `${name}.${server.domain}`, headers: { host: `${name}.${server.domain}` }, agent: retry ? agent : fresh, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        // simon's redeployed release runs with Portside's arguments (the port only): it answers without its name.
        if (res.statusCode === 200 && body.includes(`"method":"${method}"`) && (body.includes(`"service":"${name}"`) || body.includes('"version":2'))) tally.ok++;
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
  const timer = setInterval(() => services.forEach((s) => { ask(s, 'GET'); ask(s, 'POST'); }), everyMs);
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

/** One line for the test's output: the probe's counts and the CLI's stamped lines. */
export function report(label: string, tally: Tally, r: CliResult): void {
  process.stderr.write(`[${label}] load probe: ${tally.sent} requests, ${tally.ok} ok, ${tally.failures.length} failed, ${tally.retried.length} sent again after a keep-alive reset ${JSON.stringify(tally.retried)}\n${r.stderr}\n`);
}

export const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

export type CoursePm2Process = { name: string; pid: number; pm2_env: { exec_mode: string; pm_cwd: string; args?: string[] } };
/**
 * pm2's process list, by name. pm2 lists processes in the order they started (pm_id), and an undo after a
 * kill part-way restarts only the services that had been handed over, so the order is not part of what
 * adopt and undo promise to restore (pm2's dump, which `pm2 resurrect` reads, is put back byte for byte).
 */
export const pm2List = (): CoursePm2Process[] =>
  (JSON.parse(coursePm2('jlist').split('\n').reverse().find((l) => l.startsWith('[{') || l === '[]') ?? '[]') as CoursePm2Process[])
    .sort((a, b) => a.name.localeCompare(b.name));

/** The adopt run's log on the server (on-server/run-log.ts), as the host sees the server's home. */
export const adoptLogPath = (): string => hostPathOf(onServer(ON_SERVER.home, ADOPT_LOG));

/** The log's text once the run that wrote it has ended (its last line is `=== ended: …`); throws after `ms`. */
export async function runEnded(ms = 90_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = existsSync(adoptLogPath()) ? readFileSync(adoptLogPath(), 'utf8') : '';
    if (text.trimEnd().split('\n').pop()?.startsWith('=== ended: ')) return text;
    if (Date.now() > deadline) throw new Error(`the adopt run on the server did not end within ${ms} ms; its log:\n${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
