/**
 * `portside adopt --dry-run` through the real CLI (node bin/portside.js) against a course-shaped
 * server built by hand the course's way (lib/targets/course: its own namespaces at 10.78.0.2, not the
 * shared stand-in, so no e2e lock; the course server's own lock keeps two runs apart). Each case asserts the plan and that the server is byte-for-byte
 * as it was: the Caddyfile's sha256, pm2's names and pids, every file under ~/services and the static root.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdoptPlan, Refusal } from '../../lib/adopt';
import {
  courseServer, CourseServer, courseServerUnavailable, coursePm2, hostPathOf, newHome, ON_SERVER, portside, serverState, stopCaddy, useCourseServer,
} from '../support/course-server';

const why = courseServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e adopt tests skipped: ${why}`);

jest.setTimeout(120_000);

type JsonPlan = AdoptPlan & { dryRun: true; applied: false; target: string };
type JsonRefusal = { dryRun: true; applied: false; target: string; refused: Refusal };

let home: string;
let server: CourseServer;
const connection = () => ['--host', server.address, '--key', server.keyPath];

async function dryRunJson<T = JsonPlan>(): Promise<{ code: number; doc: T; stderr: string }> {
  const r = await portside(home, 'adopt', ...connection(), '--dry-run', '--json');
  return { code: r.code, doc: JSON.parse(r.stdout) as T, stderr: r.stderr };
}

useCourseServer();

describeE2E('adopt --dry-run on a course server as the course builds it', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home);
  });

  test('--json: each service with its port, folder, pm2 process and host name; the static site; what is kept; no problems; nothing changed', async () => {
    const before = serverState();
    const { code, doc } = await dryRunJson();
    expect(code).toBe(0);
    expect(doc).toMatchObject({ dryRun: true, applied: false, domain: 'course.test', routing: 'subdomain', problems: [] });
    expect(doc.services.map((s) => ({ name: s.name, port: s.port, folder: s.folder, hostnames: s.hostnames, status: s.process.status, mode: s.process.execMode, args: s.process.args }))).toEqual([
      { name: 'simon', port: 3000, folder: '/home/ubuntu/services/simon', hostnames: ['simon.course.test'], status: 'online', mode: 'fork', args: ['3000', 'simon'] },
      { name: 'startup', port: 4000, folder: '/home/ubuntu/services/startup', hostnames: ['startup.course.test'], status: 'online', mode: 'fork', args: ['4000', 'startup'] },
    ]);
    expect(doc.services[1].directives.kept.map((d) => d.text)).toEqual(['header Cache-Control no-store', 'header -etag', 'header Access-Control-Allow-Origin *']);
    expect(doc.staticSite).toMatchObject({ hosts: ['course.test'], root: '/usr/share/caddy', publicHtml: '/usr/share/caddy' });
    expect(doc.keep.globalOptions).toMatch(/local_certs/);
    expect(doc.registry).toEqual({ domain: 'course.test', email: 'student@example.com', routing: 'subdomain', tls: 'internal', services: { simon: 3000, startup: 4000 } });
    expect(doc.basis).toEqual({ caddyfile: '/etc/caddy/Caddyfile', caddyfileSha256: before.caddyfileSha256, pm2: before.pm2.map((l) => ({ name: l.split(' ')[0], pid: expect.any(Number) })) });
    expect(serverState()).toEqual(before);
  });

  test('finds the Caddyfile from the running Caddy\'s command line, and the Node pm2\'s daemon runs on (nvm\'s, off the non-interactive PATH)', async () => {
    const { doc } = await dryRunJson();
    expect(doc.server.caddy.config).toMatchObject({ file: ON_SERVER.caddyfile, adapter: 'caddyfile', how: expect.stringMatching(/^the running Caddy's command line \(pid \d+: caddy run --environ --config \/etc\/caddy\/Caddyfile/) });
    expect(doc.server.node).toEqual({ path: `${ON_SERVER.nodeBin}/node`, how: expect.stringMatching(/^the pm2 daemon's executable \(pid \d+\)$/), onPath: false });
    expect(doc.server.pm2.bin).toBe(`${ON_SERVER.nodeBin}/pm2`);
  });

  test('the human plan names each section; nothing changed', async () => {
    const before = serverState();
    const r = await portside(home, 'adopt', ...connection(), '--dry-run');
    expect(r).toExitWith(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`Adoption plan for ubuntu@${server.address}`);
    expect(r.stdout).toMatch(/^ {2}simon {4}port 3000 on 127\.0\.0\.1 {2}~\/services\/simon {2}pm2 #0 pid \d+ online fork$/m);
    expect(r.stdout).toMatch(/^ {11}reached at startup\.course\.test; runs ~\/services\/startup\/index\.js -- 4000 startup$/m);
    expect(r.stdout).toContain('Static site  course.test -> /usr/share/caddy (~/public_html -> /usr/share/caddy)');
    expect(r.stdout).toContain('  global options: local_certs; skip_install_trust; email student@example.com');
    expect(r.stdout).toContain('Problems: none');
    expect(lines.at(-2)).toBe('Dry run: nothing on the server was changed.');
    expect(serverState()).toEqual(before);
  });

  test('a host key other than the pinned one: refused before anything is sent', async () => {
    const other = newHome();
    writeFileSync(join(other, 'known_hosts'), `[${server.address}]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMEwDjhwB3Mj5t5ZcQpHxAEbkW3bNHxpv6hmrSX2Hm2E\n`);
    const r = await portside(other, 'adopt', ...connection(), '--dry-run');
    expect(r).toExitWith(1);
    expect(r.stderr).toMatch(/host key for 10\.78\.0\.2:22 .*has CHANGED/);
    expect(r.stdout).toBe('');
  });
});

describeE2E('adopt --dry-run on a course server with a student\'s typical mistakes', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('mistakes', home);
  });

  test('names every mistake with its fix; services keep the ports they listen on; nothing changed', async () => {
    const before = serverState();
    const { code, doc } = await dryRunJson();
    expect(code).toBe(0);
    expect(doc.problems.map((p) => [p.kind, p.service ?? p.host, p.port])).toEqual([
      ['exposed-port', 'simon', 3000],
      ['port-mismatch', 'startup', 4000],
      ['unrouted-process', 'worker', 5100],
      ['duplicate-site', 'simon.course.test', undefined],
      ['route-to-nothing', 'old.course.test', 5000],
    ]);
    expect(doc.problems.every((p) => p.fix.length > 20)).toBe(true);
    // Tried from here (the host side of the course veth), as a stranger would.
    expect(doc.problems[0]).toMatchObject({ outside: 'open', message: expect.stringMatching(/a connection from here to port 3000 was accepted$/) });
    expect(doc.registry.services).toEqual({ simon: 3000, startup: 4000, worker: 5100 });
    expect(doc.keep.blocks.map((b) => b.key)).toEqual(['https://simon.course.test', 'old.course.test']);
    expect(serverState()).toEqual(before);
  });

  test('without --dry-run: a plan with problems to fix is not applied (exit 1, each named); nothing changed', async () => {
    const before = serverState();
    const r = await portside(home, 'adopt', ...connection());
    expect(r).toExitWith(1);
    expect(r.stderr).toMatch(/^portside adopt: not adopting: the plan has problems to fix first: .*4001.*; nothing was changed$/m);
    expect(serverState()).toEqual(before);
  });

  test('simon bound on 0.0.0.0 really is reachable from outside the server (what exposed-port claims)', async () => {
    const { tcpOpen } = await import('../../lib/targets/course/probe');
    expect(await tcpOpen(server.address, 3000)).toBe(true);
    expect(await tcpOpen(server.address, 4000)).toBe(false);
  });
});

describeE2E('adopt --dry-run on a server with a system Node (no nvm)', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home, 'system');
  });

  test('reads pm2 with the system Node its daemon runs on, found on the PATH; the same services; nothing changed', async () => {
    const before = serverState();
    const { code, doc } = await dryRunJson();
    expect(code).toBe(0);
    expect(doc.server.node).toEqual({ path: '/usr/bin/node', how: expect.stringMatching(/^the pm2 daemon's executable/), onPath: true });
    expect(doc.server.pm2.bin).toBe('/usr/bin/pm2');
    expect(doc.services.map((s) => [s.name, s.port])).toEqual([['simon', 3000], ['startup', 4000]]);
    expect(doc.notes.join('\n')).not.toMatch(/does not find node/);
    expect(serverState()).toEqual(before);
  });
});

describeE2E('a server adopt cannot understand is refused with what was found and what to do, changing nothing', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home);
  });

  test('a Caddyfile that does not adapt (edited after Caddy loaded it): caddy-config-invalid with Caddy\'s own error', async () => {
    const file = hostPathOf(ON_SERVER.caddyfile);
    const original = readFileSync(file);
    writeFileSync(file, `${original}\nsimon.course.test {\n\treverse_proxy * localhost:3001\n}\n`);
    try {
      await refusedForBadCaddyfile();
    } finally {
      writeFileSync(file, original);
    }
  });

  async function refusedForBadCaddyfile(): Promise<void> {
    const before = serverState();
    const { code, doc } = await dryRunJson<JsonRefusal>();
    expect(code).toBe(1);
    expect(doc.refused).toMatchObject({ reason: 'caddy-config-invalid', found: '/etc/caddy/Caddyfile does not adapt: ambiguous site definition: simon.course.test' });
    const human = await portside(home, 'adopt', ...connection(), '--dry-run');
    expect(human.stderr).toContain('What to do: fix it until `caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile` passes');
    expect(human.stderr).toContain('Nothing on the server was changed.');
    expect(serverState()).toEqual(before);
  }

  test('pm2\'s daemon not running: pm2-not-running, and adopt did not start one', async () => {
    coursePm2('kill');
    const before = serverState();
    const { code, doc } = await dryRunJson<JsonRefusal>();
    expect(code).toBe(1);
    expect(doc.refused).toMatchObject({ reason: 'pm2-not-running', fix: expect.stringMatching(/pm2 resurrect/) });
    expect(existsSync(hostPathOf(`${ON_SERVER.home}/.pm2/pm2.pid`))).toBe(false);
    expect(serverState().files).toEqual(before.files);
  });

  test('no pm2 under the Node found (and none on the PATH): no-pm2', async () => {
    const { unlinkSync } = await import('node:fs');
    unlinkSync(hostPathOf(`${ON_SERVER.nodeBin}/pm2`));
    const { code, doc } = await dryRunJson<JsonRefusal>();
    expect(code).toBe(1);
    expect(doc.refused).toMatchObject({ reason: 'no-pm2', found: `pm2 is not installed for ${ON_SERVER.nodeBin}/node` });
  });

  test('Caddy not running: caddy-not-running', async () => {
    await stopCaddy();
    const { code, doc } = await dryRunJson<JsonRefusal>();
    expect(code).toBe(1);
    expect(doc.refused).toMatchObject({ reason: 'caddy-not-running', found: 'Caddy is installed (/usr/bin/caddy) but no Caddy process runs' });
  });
});

describe('adopt: the command line is checked before anything connects (exit 2: value, rule, fix)', () => {
  const home2 = newHome();
  test.each<[string, string[], RegExp]>([
    ['no --host', ['--key', '/nonexistent', '--dry-run'], /--host is required/],
    ['a --host that is not an address', ['--host', 'a;rm -rf /', '--key', '/nonexistent', '--dry-run'], /--host: "a;rm -rf \/" is not an address/],
    ['no --key', ['--host', '203.0.113.7', '--dry-run'], /--key is required: the private key that logs in to 203\.0\.113\.7/],
    ['a --user that is not a user name', ['--host', '203.0.113.7', '--user', 'ubuntu; id', '--key', '/k', '--dry-run'], /--user: "ubuntu; id" is not a user name/],
    ['an unknown option', ['--host', '203.0.113.7', '--key', '/k', '--redo'], /Unknown option '--redo'/],
    ['--discard-deploys without --undo', ['--host', '203.0.113.7', '--key', '/k', '--discard-deploys'], /--discard-deploys goes with --undo/],
  ])('%s', async (_what, args, message) => {
    const r = await portside(home2, 'adopt', ...args);
    expect(r).toExitWith(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
