/**
 * `portside adopt` (applying) and `portside adopt --undo` through the real CLI against the course-shaped
 * server (lib/targets/course, its own namespaces at 10.78.0.2: no e2e lock), under load: a probe sends
 * a GET and a POST through Caddy (HTTPS, Caddy's internal CA) to each service every 20 ms for the whole
 * command and counts every answer that is not a 200 from the right service.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CliResult, courseServer, CourseServer, courseServerUnavailable, coursePm2, hostPathOf, newHome, ON_SERVER, portside, useCourseServer,
} from '../support/course-server';
import { PACKAGE_ROOT } from '../../lib/package-root';

const why = courseServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e adopt-apply tests skipped: ${why}`);

jest.setTimeout(300_000);

let home: string;
let server: CourseServer;
const connection = () => ['--host', server.address, '--key', server.keyPath];

interface Tally {
  sent: number;
  ok: number;
  /** Requests sent again once, as browsers do, after a reset on a reused keep-alive connection before any answer (see loadProbe). */
  retried: string[];
  failures: string[];
}

const t0 = Date.now();
const at = () => `${((Date.now() - t0) / 1000).toFixed(2)}s`;

/** The real CLI, each stderr line stamped with the time it arrived (the same clock as the probe's failures): which step a failure belongs to. */
function timedPortside(...args: string[]): Promise<CliResult> {
  return killablePortside(null, ...args);
}

/** timedPortside, killed with SIGKILL as soon as a stderr line matches `killAt` (a step's announcement). */
function killablePortside(killAt: RegExp | null, ...args: string[]): Promise<CliResult> {
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
      if (killAt && lines.some((l) => killAt.test(l))) child.kill('SIGKILL');
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/**
 * GET and POST to each service through Caddy every `everyMs` until stopped; each answer must be a 200
 * from that service (or simon's redeployed release). Every Caddy 2.6.2 reload closes the idle
 * keep-alive connections of the old configuration; a request written on one at that instant is reset
 * before any answer (measured: 0–6 requests in a reload, also when nothing but the Caddyfile changes).
 * Browsers send such a request again on a new connection (Node documents `req.reusedSocket` for the
 * same); so does this probe, once, on a new connection, and reports it apart. Anything else is a failure.
 */
function loadProbe(services: readonly string[], everyMs = 20): { stop: () => Promise<Tally> } {
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

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
type CoursePm2Process = { name: string; pm2_env: { exec_mode: string; pm_cwd: string; args?: string[] } };
/**
 * pm2's process list, by name. pm2 lists processes in the order they started (pm_id), and an undo after a
 * kill part-way restarts only the services that had been handed over, so the order is not part of what
 * adopt and undo promise to restore (pm2's dump, which `pm2 resurrect` reads, is put back byte for byte).
 */
const pm2List = (): CoursePm2Process[] =>
  (JSON.parse(coursePm2('jlist').split('\n').reverse().find((l) => l.startsWith('[{') || l === '[]') ?? '[]') as CoursePm2Process[])
    .sort((a, b) => a.name.localeCompare(b.name));

useCourseServer();

describeE2E('adopt, deploy, undo on a course server under load', () => {
  let originalSha: string;
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home);
    originalSha = sha256(hostPathOf(ON_SERVER.caddyfile));
  });

  test('adopt: 0 failed requests; services in pm2 cluster mode on their ports, with their kept headers', async () => {
    const probe = loadProbe(['simon', 'startup']);
    const r = await timedPortside('adopt', ...connection());
    const tally = await probe.stop();
    process.stderr.write(`[adopt] load probe: ${tally.sent} requests, ${tally.ok} ok, ${tally.failures.length} failed, ${tally.retried.length} sent again after a keep-alive reset ${JSON.stringify(tally.retried)}\n${r.stderr}\n`);
    expect(r.stderr).toMatch(/6\/6/);
    expect(r).toExitWith(0);
    expect(tally.failures).toEqual([]);
    expect(tally.ok).toBe(tally.sent);
    expect(tally.retried.length).toBeLessThan(20);
    expect(tally.sent).toBeGreaterThan(100);
    const list = pm2List();
    expect(list.map((p) => [p.name, p.pm2_env.exec_mode])).toEqual([['simon', 'cluster_mode'], ['startup', 'cluster_mode']]);
    expect(readFileSync(hostPathOf(ON_SERVER.caddyfile), 'utf8')).toMatch(/^import \/home\/ubuntu\/\.portside\/caddy\/Caddyfile$/m);
    const portsideCaddyfile = readFileSync(hostPathOf('/home/ubuntu/.portside/caddy/Caddyfile'), 'utf8');
    expect(portsideCaddyfile).toContain('\theader Access-Control-Allow-Origin *');
    expect(portsideCaddyfile).toContain('\temail student@example.com');
  });

  test('doctor on the adopted server finds node, npm and pm2 as Portside runs them (nvm\'s, off the PATH) and reads the server', async () => {
    const r = await portside(home, 'doctor', '--json', ...connection(), '--user', 'ubuntu');
    const report = JSON.parse(r.stdout) as { results: Array<{ id: string; status: string; message: string }> };
    const byId = new Map(report.results.map((c) => [c.id, c]));
    for (const tool of ['node', 'npm', 'pm2']) {
      expect(byId.get(`capacity.tool.${tool}`)).toMatchObject({ status: 'pass', message: expect.stringContaining('/.nvm/versions/node/') });
    }
    // The script doctor runs on the server ran (with nvm's Node): the registry and pm2 were read.
    expect(report.results.filter((c) => c.id === 'drift.registry' || c.id.startsWith('drift.pm2')).filter((c) => c.status === 'fail')).toEqual([]);
    expect(byId.get('health.direct.simon') ?? byId.get('health.simon')).toMatchObject({ status: 'pass' });
  });

  test('adopt again: refused, already adopted', async () => {
    const r = await portside(home, 'adopt', ...connection());
    expect(r).toExitWith(1);
    expect(r.stderr).toMatch(/already adopted/);
  });

  test('deploy-service simon 3000 works on the adopted server and serves the new code; undo then refuses without --discard-deploys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portside-adopt-simon-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'simon', version: '2.0.0', main: 'index.js' }));
    writeFileSync(join(dir, 'index.js'), readFileSync(hostPathOf('/home/ubuntu/services/simon/index.js'), 'utf8').replace('JSON.stringify({ service: name,', 'JSON.stringify({ version: 2, service: name,'));
    const d = await portside(home, 'deploy-service', 'simon', '3000', '--dir', dir, ...connection(), '--user', 'ubuntu');
    process.stderr.write(`[deploy] ${d.stdout}\n${d.stderr}\n`);
    expect(d.code).toBe(0);
    const body = await new Promise<string>((resolve, reject) => {
      https.get({ host: server.address, port: 443, path: '/', servername: `simon.${server.domain}`, headers: { host: `simon.${server.domain}` }, rejectUnauthorized: false }, (res) => {
        let b = '';
        res.on('data', (c) => { b += c; });
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    expect(body).toContain('"version":2');
    const u = await portside(home, 'adopt', '--undo', ...connection());
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/releases were deployed since adoption: simon runs .*--discard-deploys/s);
  });

  test('undo --discard-deploys: 0 failed requests; the Caddyfile byte for byte; the original fork processes again', async () => {
    const probe = loadProbe(['simon', 'startup']);
    const r = await timedPortside('adopt', '--undo', '--discard-deploys', ...connection());
    const tally = await probe.stop();
    process.stderr.write(`[undo] load probe: ${tally.sent} requests, ${tally.ok} ok, ${tally.failures.length} failed, ${tally.retried.length} sent again after a keep-alive reset ${JSON.stringify(tally.retried)}\n${r.stderr}\n`);
    expect(r).toExitWith(0);
    expect(tally.failures).toEqual([]);
    expect(tally.ok).toBe(tally.sent);
    expect(tally.retried.length).toBeLessThan(20);
    expect(tally.sent).toBeGreaterThan(100);
    expect(sha256(hostPathOf(ON_SERVER.caddyfile))).toBe(originalSha);
    expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode, p.pm2_env.pm_cwd, p.pm2_env.args])).toEqual([
      ['simon', 'fork_mode', '/home/ubuntu/services/simon', ['3000', 'simon']],
      ['startup', 'fork_mode', '/home/ubuntu/services/startup', ['4000', 'startup']],
    ]);
  });
});

describeE2E('adopt killed part-way: the next adopt says so, --undo puts the server back under load, then adopt works', () => {
  let originalSha: string;
  let originalDumpSha: string;
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home);
    originalSha = sha256(hostPathOf(ON_SERVER.caddyfile));
    originalDumpSha = sha256(hostPathOf('/home/ubuntu/.pm2/dump.pm2'));
  });

  test('killed as the ports are handed over (step 5/6)', async () => {
    const probe = loadProbe(['simon', 'startup']);
    const r = await killablePortside(/^5\/6/, 'adopt', ...connection());
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const tally = await probe.stop();
    process.stderr.write(`[killed adopt] load probe: ${tally.sent} requests, ${tally.ok} ok, ${tally.failures.length} failed, ${tally.retried.length} sent again\n${r.stderr}\n`);
    expect(r.code).not.toBe(0);
    expect(tally.failures).toEqual([]);
  });

  test('adopt again: refused, the earlier one stopped part-way, undo first', async () => {
    const r = await portside(home, 'adopt', ...connection());
    expect(r).toExitWith(1);
    expect(r.stderr).toMatch(/an earlier adoption of this server stopped part-way.*\n.*portside adopt --undo/);
  });

  test('--undo: 0 failed requests; the Caddyfile byte for byte, the original fork processes, no ~/.portside', async () => {
    const probe = loadProbe(['simon', 'startup']);
    const r = await timedPortside('adopt', '--undo', ...connection());
    const tally = await probe.stop();
    process.stderr.write(`[undo after kill] load probe: ${tally.sent} requests, ${tally.ok} ok, ${tally.failures.length} failed, ${tally.retried.length} sent again\n${r.stderr}\n`);
    expect(r).toExitWith(0);
    expect(r.stderr).toMatch(/did not finish/);
    expect(tally.failures).toEqual([]);
    expect(sha256(hostPathOf(ON_SERVER.caddyfile))).toBe(originalSha);
    expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode, p.pm2_env.args])).toEqual([['simon', 'fork_mode', ['3000', 'simon']], ['startup', 'fork_mode', ['4000', 'startup']]]);
    expect(sha256(hostPathOf('/home/ubuntu/.pm2/dump.pm2'))).toBe(originalDumpSha);
    expect(existsSync(hostPathOf('/home/ubuntu/.portside'))).toBe(false);
    expect(readdirSync(hostPathOf('/home/ubuntu/services/simon')).sort()).toEqual(['index.js', 'package.json']);
  });

  test('then adopt works', async () => {
    const r = await portside(home, 'adopt', ...connection());
    expect(r).toExitWith(0);
    expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode])).toEqual([['simon', 'cluster_mode'], ['startup', 'cluster_mode']]);
  });
});
