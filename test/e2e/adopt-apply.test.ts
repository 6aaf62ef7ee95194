/**
 * `portside adopt` (applying) and `portside adopt --undo` through the real CLI against the course-shaped
 * server (lib/targets/course, its own namespaces at 10.78.0.2: no e2e lock), under load: a probe sends
 * a GET and a POST through Caddy (HTTPS, Caddy's internal CA) to each service every 20 ms for the whole
 * command and counts every answer that is not a 200 from the right service.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  courseServer, CourseServer, courseServerUnavailable, hostPathOf, newHome, ON_SERVER, portside, useCourseServer,
} from '../support/course-server';
import { pm2List, report, sha256 } from '../support/adopt-load';
import { Accept, loadProbe, timedPortside } from '../support/course-load';

/** The service's own answer, or simon's redeployed release (it runs with Portside's arguments, the port only: it answers without its name). */
const serviceOrRedeployed: Accept = (name, method, status, body) => status === 200 && body.includes(`"method":"${method}"`) && (body.includes(`"service":"${name}"`) || body.includes('"version":2'));

const why = courseServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e adopt-apply tests skipped: ${why}`);

jest.setTimeout(300_000);

let home: string;
let server: CourseServer;
const connection = () => ['--host', server.address, '--key', server.keyPath];

useCourseServer();

describeE2E('adopt, deploy, undo on a course server under load', () => {
  let originalSha: string;
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home);
    originalSha = sha256(hostPathOf(ON_SERVER.caddyfile));
  });

  test('adopt: 0 failed requests; services in pm2 cluster mode on their ports, with their kept headers', async () => {
    const probe = loadProbe(server, ['simon', 'startup']);
    const r = await timedPortside(home, null, 'adopt', ...connection());
    const tally = await probe.stop();
    report('adopt', tally, r);
    expect(r.stderr).toMatch(/6\/6/);
    expect(r).toExitWith(0);
    expect(tally.failures).toEqual([]);
    expect(tally.ok).toBe(tally.sent);
    expect(tally.retried.length).toBeLessThan(20);
    expect(tally.sent).toBeGreaterThan(100);
    const list = pm2List();
    expect(list.map((p) => [p.name, p.pm2_env.exec_mode])).toEqual([['simon', 'cluster_mode'], ['startup', 'cluster_mode']]);
    expect(readFileSync(hostPathOf(ON_SERVER.caddyfile), 'utf8')).toMatch(/^import \/usr\/share\/caddy\/\.portside-www\/caddy\/Caddyfile$/m);
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
    try {
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
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('undo --discard-deploys: 0 failed requests; the Caddyfile byte for byte; the original fork processes again', async () => {
    const probe = loadProbe(server, ['simon', 'startup'], { accept: serviceOrRedeployed });
    const r = await timedPortside(home, null, 'adopt', '--undo', '--discard-deploys', ...connection());
    const tally = await probe.stop();
    report('undo', tally, r);
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
