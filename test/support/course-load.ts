/**
 * Load through the course server's Caddy while a command runs, and the CLI with its stderr lines
 * stamped on the same clock (which step a failure belongs to). The probe itself is test/support/load-probe.ts,
 * shared with the fleet suites.
 */
import { ChildProcess, spawn } from 'node:child_process';
import https from 'node:https';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../lib/package-root';
import type { CliResult, CourseServer } from './course-server';
import { Accept, loadProbe as sharedProbe, Tally } from './load-probe';

export type { Accept, Tally } from './load-probe';

const t0 = Date.now();
/** Seconds since this module was loaded: the clock of the probe's failures and of timedPortside's lines. */
export const at = (): string => `${((Date.now() - t0) / 1000).toFixed(2)}s`;

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

/** The default right answer: a 200 whose JSON names the service and the method. */
const serviceAnswered: Accept = (name, method, status, body) => status === 200 && body.includes(`"method":"${method}"`) && body.includes(`"service":"${name}"`);

/**
 * GET and POST to each service through the course server's Caddy (HTTPS, `<name>.<domain>/probe`) every
 * `everyMs` until stopped: the shared probe (test/support/load-probe.ts), its failures stamped with at().
 * Every Caddy 2.6.2 reload closes the idle keep-alive connections of the old configuration; a request
 * written on one at that instant is reset before any answer, and is sent again once, as browsers do.
 */
export function loadProbe(server: CourseServer, services: readonly string[], opts: { everyMs?: number; accept?: Accept } = {}): { stop: () => Promise<Tally> } {
  return sharedProbe({ address: server.address, domain: server.domain, names: services, path: '/probe', accept: opts.accept ?? serviceAnswered, everyMs: opts.everyMs, stamp: at });
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
