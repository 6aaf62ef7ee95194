/**
 * Adopting a course server with a student's typical mistakes (lib/targets/course variant "mistakes"),
 * under load, through the real CLI: the student first fixes what the plan says must be fixed (the
 * Caddyfile: startup's wrong port, the pasted second simon block, the site of a service that is gone),
 * reloads Caddy as `sudo systemctl reload caddy` would (caddy.service's ExecReload), and adopts with the
 * problems adopt accepts (simon listening on 0.0.0.0, a pm2 process no site reaches). Course-server
 * lock only (useCourseServer), no e2e lock.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { onCourse } from '../../lib/targets/course';
import { courseServer, CourseServer, courseServerUnavailable, hostPathOf, newHome, ON_SERVER, portside, useCourseServer } from '../support/course-server';
import { getThroughCaddy, loadProbe, timedPortside } from '../support/course-load';
import { pm2List, report, sha256 } from '../support/adopt-load';

const why = courseServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e adopt-mistakes-apply tests skipped: ${why}`);

jest.setTimeout(300_000);

let home: string;
let server: CourseServer;
const connection = () => ['--host', server.address, '--key', server.keyPath];
const HOME = ON_SERVER.home;

type Problem = { kind: string; service?: string; host?: string; port?: number };
type Plan = { problems: Problem[]; registry: { services: Record<string, number> }; keep: { globalOptions: string | null; blocks: Array<{ key: string }> } };
async function plan(): Promise<Plan> {
  const r = await portside(home, 'adopt', '--dry-run', '--json', ...connection());
  expect(r).toExitWith(0);
  return JSON.parse(r.stdout) as Plan;
}

/**
 * The student's fixes, each the one the plan's problem names: startup's site to 4000 (where pm2 runs it),
 * the pasted `https://simon…` block deleted (one of the duplicates), the `old` site deleted (nothing
 * listens on 5000). Written in place, as vi writes ~/Caddyfile (a link to /etc/caddy/Caddyfile).
 */
function fixCaddyfile(text: string): string {
  // The fixture's site blocks have no nested braces: a block is its header line to the next line `}`.
  return text
    .replace(/# pasted again[^\n]*\nhttps:\/\/simon\.[^{\n]*\{[^}]*\}\n\n?/, '')
    .replace(/old\.[^{\n]*\{[^}]*\}\n\n?/, '')
    .replace('reverse_proxy * localhost:4001', 'reverse_proxy * localhost:4000');
}

useCourseServer();

describeE2E('adopt a course server with a student\'s typical mistakes, once the plan\'s must-fix problems are fixed', () => {
  let fixedSha: string;
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('mistakes', home);
  });

  test('the student fixes the Caddyfile and reloads Caddy: only problems adopt accepts are left', async () => {
    const file = hostPathOf(ON_SERVER.caddyfile);
    const fixed = fixCaddyfile(readFileSync(file, 'utf8'));
    expect(fixed).not.toMatch(/4001|5000|https:\/\/simon/);
    writeFileSync(file, fixed);
    // `sudo systemctl reload caddy`: caddy.service's ExecReload.
    const [cmd, ...args] = onCourse(['caddy', 'reload', '--config', ON_SERVER.caddyfile, '--force']);
    execFileSync(cmd, args, { stdio: 'ignore' });
    fixedSha = sha256(file);
    const p = await plan();
    expect(p.problems.map((x) => [x.kind, x.service ?? x.host, x.port])).toEqual([
      ['exposed-port', 'simon', 3000],
      ['unrouted-process', 'worker', 5100],
    ]);
    expect(p.registry.services).toEqual({ simon: 3000, startup: 4000, worker: 5100 });
    expect(p.keep.blocks).toEqual([]);
  });

  test('adopt under load: 0 failed requests; all three in cluster mode; simon still on 0.0.0.0 as the student started it; worker gets its route', async () => {
    const probe = loadProbe(server, ['simon', 'startup']);
    const r = await timedPortside(home, null, 'adopt', ...connection());
    const tally = await probe.stop();
    report('adopt mistakes', tally, r);
    expect(r).toExitWith(0);
    expect(tally.failures).toEqual([]);
    expect(tally.ok).toBe(tally.sent);
    expect(tally.retried.length).toBeLessThan(20);
    expect(tally.sent).toBeGreaterThan(100);
    expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode, p.pm2_env.args])).toEqual([
      ['simon', 'cluster_mode', ['3000', 'simon', '0.0.0.0']],
      ['startup', 'cluster_mode', ['4000', 'startup']],
      ['worker', 'cluster_mode', ['5100', 'worker']],
    ]);
    const worker = await getThroughCaddy(server, 'worker', '/probe');
    expect(worker.status).toBe(200);
    expect(worker.body).toContain('"service":"worker"');
  });

  test('kept verbatim: the global options and each site\'s own directives (startup\'s CORS header, not simon\'s, which never had it)', () => {
    const caddyfile = readFileSync(hostPathOf(`${HOME}/.portside/caddy/Caddyfile`), 'utf8');
    for (const line of ['\tlocal_certs', '\tskip_install_trust', '\temail student@example.com']) expect(caddyfile).toContain(line);
    const site = (name: string) => caddyfile.slice(caddyfile.indexOf(`${name}.${server.domain} {`)).split('\n}')[0];
    expect(site('startup')).toContain('header Access-Control-Allow-Origin *');
    expect(site('simon')).not.toContain('Access-Control-Allow-Origin');
    for (const name of ['simon', 'startup']) {
      expect(site(name)).toContain('header Cache-Control no-store');
      expect(site(name)).toContain('header -etag');
    }
  });

  test('undo under load: 0 failed requests; the student\'s fixed Caddyfile byte for byte; the three fork processes again', async () => {
    const probe = loadProbe(server, ['simon', 'startup']);
    const r = await timedPortside(home, null, 'adopt', '--undo', ...connection());
    const tally = await probe.stop();
    report('undo mistakes', tally, r);
    expect(r).toExitWith(0);
    expect(tally.failures).toEqual([]);
    expect(sha256(hostPathOf(ON_SERVER.caddyfile))).toBe(fixedSha);
    expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode, p.pm2_env.args])).toEqual([
      ['simon', 'fork_mode', ['3000', 'simon', '0.0.0.0']],
      ['startup', 'fork_mode', ['4000', 'startup']],
      ['worker', 'fork_mode', ['5100', 'worker']],
    ]);
  });
});
