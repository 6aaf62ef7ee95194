/**
 * `portside doctor --target local` against the shared stand-in server: it passes when the server is
 * healthy, and names the exact problem for each fault below. Every case undoes what it did in a
 * `finally`, and the server is healthy again afterwards.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { serviceUrl, snapshot, viaCaddy } from '../support/server-state';
import type { CheckResult } from '../../lib/doctor';
import { CADDY_ADMIN_PORT, HTTP_PORT, HTTPS_PORT, SERVER_PORTS, SSH_PORT } from '../../lib/remote/layout';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e doctor tests skipped: ${why}`);

const NAME = 'doc-svc';
const SAMPLE = join(__dirname, '..', '..', 'assets', 'samples', 'simon');

interface Report { ok: boolean; summary: string; results: CheckResult[] }

async function doctor(): Promise<Report> {
  const r = await cli('doctor', '--target', 'local', '--json');
  const report = JSON.parse(r.out) as Report;
  expect(r.code).toBe(report.ok ? 0 : 1);
  return report;
}
const failures = (r: Report) => r.results.filter((x) => x.status === 'fail');

/**
 * The server is shared: other suites' services and listeners come and go and are theirs to judge.
 * These are the failures that concern the server as a whole or this suite's own service.
 */
function oursFailing(r: Report, port: number): CheckResult[] {
  const ours = new RegExp(`(${NAME}|\\.(${SERVER_PORTS.join('|')}|${port})$|^drift\\.(caddyfile|registry|pm2)$|^sockets\\.read$|^capacity|^health\\.site$|^tls\\.portside\\.test$)`);
  return failures(r).filter((x) => ours.test(x.id));
}

/** The server is shared with other suites: a deploy in flight can fail a check for a moment. */
async function doctorUntilHealthy(port: number): Promise<Report> {
  let report = await doctor();
  for (let i = 0; i < 5 && oursFailing(report, port).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 2000));
    report = await doctor();
  }
  return report;
}

function asUser(server: LocalServer, command: string): string {
  return execFileSync('ip', ['netns', 'exec', 'portside', 'su', '-', server.user, '-c', command], { encoding: 'utf8' });
}

/** A process in the server's namespace listening on address:port, and its pid (runuser forks: kill the listener itself). */
interface Listener { readonly child: ChildProcess; readonly pid: number }

async function listener(port: number, address: string, user?: string): Promise<Listener> {
  const code = `require('net').createServer().listen(${port}, '${address}', () => console.log(process.pid))`;
  const argv = user ? ['netns', 'exec', 'portside', 'runuser', '-u', user, '--', 'node', '-e', code] : ['netns', 'exec', 'portside', 'node', '-e', code];
  const child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (c) => reject(new Error(`listener on ${port} exited (${c})`)));
  });
  return { child, pid };
}

async function stop(l: Listener): Promise<void> {
  const gone = l.child.exitCode !== null ? Promise.resolve() : new Promise((r) => l.child.once('exit', r));
  try {
    process.kill(l.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await gone;
}

describeE2E('portside doctor --target local', () => {
  let server: LocalServer;
  let port: number;

  beforeAll(async () => {
    server = await ensureLocalServer();
    const r = await cli('deploy-service', NAME, '--dir', SAMPLE, '--target', 'local');
    expect(r).toExitWith(0);
    port = JSON.parse(snapshot(server).registry).services[NAME];
  }, 120_000);

  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
  }, 60_000);

  afterEach(async () => {
    // Whatever a case broke, it put back: the service answers through Caddy again.
    // Caddy 2.6.2 fails TLS handshakes for a moment while anyone's reload swaps certificates: retry those.
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = await viaCaddy(server, serviceUrl(server, NAME)).then((r) => r.status, () => 0);
    }
    expect(status).toBe(200);
  }, 30_000);

  test('passes on a healthy server, with the text report ending in "healthy"', async () => {
    const report = await doctorUntilHealthy(port);
    expect(oursFailing(report, port)).toEqual([]);
    if (!report.ok) console.warn(`doctor: failures that belong to other suites on the shared server:\n${failures(report).map((f) => f.message).join('\n')}`);
    const ids = report.results.map((r) => r.id);
    for (const id of [`exposure.open.${SSH_PORT}`, `exposure.open.${HTTP_PORT}`, `exposure.open.${HTTPS_PORT}`, `sockets.ok.${CADDY_ADMIN_PORT}`, `sockets.ok.${port}`,
      'drift.caddyfile', `drift.online.${NAME}`, `health.direct.${NAME}`, `health.caddy.${NAME}`, `tls.${NAME}.portside.test`, 'dns', 'capacity.tool.pm2']) {
      expect(ids).toContain(id);
    }
    expect(ids).not.toContain(`exposure.leak.${port}`);
    const text = await cli('doctor', '--target', 'local');
    expect(text.code).toBe(report.ok ? 0 : 1);
    expect(text.out.split('\n').at(-1)).toMatch(report.ok ? /^healthy: \d+ passed, 0 failed/ : /^\d+ problems?: \d+ passed, \d+ failed/);
  }, 60_000);

  test('names an extra process listening on a public address, with its name and pid', async () => {
    const rogue = await listener(7777, '0.0.0.0');
    try {
      const report = await doctor();
      expect(report.ok).toBe(false);
      const sock = report.results.find((r) => r.id === 'sockets.unregistered.7777')!;
      expect(sock.status).toBe('fail');
      expect(sock.message).toMatch(/^port 7777 listens on 0\.0\.0\.0:7777 \(node \(pid \d+\)\) and no service is registered on it$/);
      expect(sock.fix).toMatch(/^stop it \(kill \d+\)/);
      expect(report.results.find((r) => r.id === 'exposure.leak.7777')).toMatchObject({
        status: 'fail', message: expect.stringMatching(/^10\.77\.0\.2:7777 accepts connections from outside the server: node \(pid \d+\)/),
      });
    } finally {
      await stop(rogue);
    }
    expect(oursFailing(await doctorUntilHealthy(port), port)).toEqual([]);
    expect((await doctor()).results.some((r) => r.id.endsWith('.7777'))).toBe(false);
  }, 60_000);

  test('names a service port reachable from outside (the service started without the preload)', async () => {
    asUser(server, `pm2 stop ${NAME}`);
    let rogue: Listener | undefined;
    try {
      // What the service would do without Portside's preload: listen on every interface.
      rogue = await listener(port, '0.0.0.0', server.user);
      const report = await doctor();
      expect(report.ok).toBe(false);
      expect(report.results.find((r) => r.id === `exposure.leak.${port}`)).toMatchObject({
        status: 'fail', message: `10.77.0.2:${port} accepts connections from outside the server: service "${NAME}" is reachable without going through Caddy`,
        fix: `redeploy it so it runs with Portside's preload, which binds it to 127.0.0.1: portside deploy-service ${NAME} --force`,
      });
      expect(report.results.find((r) => r.id === `sockets.public.${port}`)).toMatchObject({
        status: 'fail', message: expect.stringMatching(new RegExp(`^service "${NAME}" listens on 0\\.0\\.0\\.0:${port} \\(node \\(pid \\d+\\)\\), not only on 127\\.0\\.0\\.1`)),
      });
    } finally {
      if (rogue) await stop(rogue);
      asUser(server, `pm2 restart ${NAME}`);
    }
  }, 60_000);

  test('names a registry/Caddyfile disagreement, and the file is restored byte-for-byte', async () => {
    const file = JSON.parse(snapshot(server).registry).paths.caddyfile as string;
    const original = readFileSync(file);
    const edited = original.toString('utf8').replace(`reverse_proxy 127.0.0.1:${port} {`, `reverse_proxy 127.0.0.1:${port + 1} {`);
    expect(edited).not.toBe(original.toString('utf8'));
    writeFileSync(file, edited);
    try {
      const report = await doctor();
      const drift = report.results.find((r) => r.id === 'drift.caddyfile')!;
      expect(drift.status).toBe('fail');
      expect(drift.message).toMatch(new RegExp(`^the Caddyfile differs from what the registry renders, first at line \\d+: expected "\\\\treverse_proxy 127\\.0\\.0\\.1:${port} \\{", found "\\\\treverse_proxy 127\\.0\\.0\\.1:${port + 1} \\{"$`));
      expect(drift.fix).toMatch(/hand edits are not kept/);
    } finally {
      // Put it back only if nobody else's deploy re-rendered it meanwhile (that would have restored it).
      if (readFileSync(file, 'utf8') === edited) writeFileSync(file, original);
    }
    expect(readFileSync(file).equals(original)).toBe(true);
  }, 60_000);

  test('names a stopped service, and passes again once it is restarted', async () => {
    asUser(server, `pm2 stop ${NAME}`);
    try {
      const report = await doctor();
      expect(report.ok).toBe(false);
      expect(report.results.find((r) => r.id === `drift.stopped.${NAME}`)).toEqual({
        id: `drift.stopped.${NAME}`, status: 'fail', message: `service "${NAME}" is stopped under pm2: its URL answers 502`,
        fix: `start it again on the server: pm2 restart ${NAME} && pm2 save (or portside deploy-service ${NAME} --force)`,
      });
      expect(report.results.find((r) => r.id === `health.direct.${NAME}`)).toMatchObject({
        status: 'fail', message: `service "${NAME}" does not answer GET / on 127.0.0.1:${port} inside the server (ECONNREFUSED)`,
      });
    } finally {
      asUser(server, `pm2 restart ${NAME}`);
    }
    const after = await doctorUntilHealthy(port);
    expect(after.results.find((r) => r.id === `drift.online.${NAME}`)?.status).toBe('pass');
  }, 60_000);

  test('only reads: registry, Caddyfile and pm2 processes are the same after a run', async () => {
    const before = snapshot(server);
    await doctor();
    expect(snapshot(server)).toEqual(before);
  }, 60_000);
});
