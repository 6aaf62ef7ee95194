/**
 * A reboot of an adopted course server (lib/targets/course, its own namespaces: no e2e lock). The
 * reboot (rebootCourse) kills every process but the server's init and sshd, then starts the two units
 * that bring a course server back, from their unit files, as systemd would:
 * - pm2-ubuntu.service, written by `pm2 startup` from pm2's template (Unitech/pm2
 *   lib/templates/init-scripts/systemd.tpl: `Type=forking`, `User=%USER%`,
 *   `Environment=PATH=%NODE_PATH%:…`, `Environment=PM2_HOME=%HOME_PATH%`, `ExecStart=%PM2_PATH% resurrect`;
 *   lib/API/Startup.js fills %NODE_PATH% with the PATH it ran with, which holds nvm's bin): pm2 comes
 *   back from ~/.pm2/dump.pm2, on the Node that PATH finds first;
 * - caddy.service (Caddy's package: `User=caddy`, `ExecStart=/usr/bin/caddy run --environ --config
 *   /etc/caddy/Caddyfile`): Caddy reads /etc/caddy/Caddyfile, not what the last reload gave it.
 */
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCourse, rebootCourse } from '../../lib/targets/course';
import { courseServer, CourseServer, courseServerUnavailable, hostPathOf, newHome, ON_SERVER, portside, useCourseServer } from '../support/course-server';
import { getThroughCaddy } from '../support/course-load';
import { pm2List } from '../support/adopt-load';

const why = courseServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e adopt-reboot tests skipped: ${why}`);

jest.setTimeout(300_000);

let home: string;
let server: CourseServer;
const connection = () => ['--host', server.address, '--key', server.keyPath];
const HOME = ON_SERVER.home;


/** A path as the server resolves it (links followed), read inside its namespaces (pids are the server's own). */
function onServerRealpath(path: string): string {
  const [cmd, ...args] = onCourse(['readlink', '-f', path]);
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}

/** Poll until every service answers through Caddy with its own JSON (a reboot's services take a moment to listen). */
async function answering(names: readonly string[], ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const bodies = await Promise.all(names.map((n) => getThroughCaddy(server, n, '/probe').catch((e: Error) => ({ status: 0, body: e.message }))));
    if (bodies.every((b, i) => b.status === 200 && b.body.includes(`"service":"${names[i]}"`))) return;
    if (Date.now() > deadline) throw new Error(`after the reboot: ${names.map((n, i) => `${n} ${bodies[i].status} ${bodies[i].body.slice(0, 80)}`).join('; ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const reboot = () => rebootCourse((line) => process.stderr.write(`[reboot] ${line}\n`));

useCourseServer();

describeE2E('a reboot of an adopted course server, and of one given back', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home);
  });

  test('the pm2-ubuntu unit (pm2 startup) resurrects with nvm\'s pm2, nvm\'s Node first on its PATH', () => {
    const unit = readFileSync('/var/lib/portside-course/systemd/pm2-ubuntu.service', 'utf8');
    expect(unit).toContain(`ExecStart=${ON_SERVER.pm2Path} resurrect`);
    expect(unit).toContain(`Environment=PATH=${ON_SERVER.nodeBin}:`);
    expect(unit).toContain(`Environment=PM2_HOME=${HOME}/.pm2`);
    expect(unit).toMatch(/^User=ubuntu$/m);
  });

  test('adopt, then pm2\'s dump holds both services in cluster mode from their current release', async () => {
    const r = await portside(home, 'adopt', ...connection());
    expect(r).toExitWith(0);
    const dump = JSON.parse(readFileSync(hostPathOf(`${HOME}/.pm2/dump.pm2`), 'utf8')) as Array<{ name: string; exec_mode: string; pm_cwd: string; node_args: string[] }>;
    expect(dump.map((a) => [a.name, a.exec_mode, a.pm_cwd]).sort()).toEqual([
      ['simon', 'cluster_mode', `${HOME}/services/simon/current`],
      ['startup', 'cluster_mode', `${HOME}/services/startup/current`],
    ]);
  });

  test('after a reboot: Caddy starts from /etc/caddy/Caddyfile and loads Portside\'s Caddyfile through the import; services answer in cluster mode from current on the adopted Node', async () => {
    await reboot();
    await answering(['simon', 'startup']);
    const list = pm2List();
    expect(list.map((p) => [p.name, p.pm2_env.exec_mode, p.pm2_env.pm_cwd])).toEqual([
      ['simon', 'cluster_mode', `${HOME}/services/simon/current`],
      ['startup', 'cluster_mode', `${HOME}/services/startup/current`],
    ]);
    const adoptedNode = onServerRealpath(`${HOME}/.portside/node`);
    expect(adoptedNode).toBe(`${ON_SERVER.nodeBin}/node`);
    for (const p of list) expect(onServerRealpath(`/proc/${p.pid}/exe`)).toBe(adoptedNode);
    // Portside's rendered Caddyfile (its headers snippet) is what answers, and its static site.
    const simon = await getThroughCaddy(server, 'simon', '/');
    expect(simon.body).toContain('"service":"simon"');
    const site = await getThroughCaddy(server, null, '/');
    expect(site.body).toContain('Hello from the course server');
    // Portside's Caddyfile sits in the static root (where Caddy's user can read it) but is not served: the site's root is
    // .portside-www/current, and an unknown path gets the home page (the single-page-app fallback).
    for (const path of ['/caddy/Caddyfile', '/.portside-www/caddy/Caddyfile']) {
      const r = await getThroughCaddy(server, null, path);
      expect(r.body).toContain('Hello from the course server');
      expect(r.body).not.toContain('reverse_proxy');
    }
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      https.get({ host: server.address, port: 443, path: '/', servername: `simon.${server.domain}`, headers: { host: `simon.${server.domain}` }, rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.headers);
      }).on('error', reject);
    });
    expect(headers['x-content-type-options']).toBe('nosniff');
  });

  test('deploy-service simon 3000 (--host, --key) works after the reboot and serves the new code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portside-reboot-simon-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'simon', version: '2.0.0', main: 'index.js' }));
      writeFileSync(join(dir, 'index.js'), readFileSync(hostPathOf(`${HOME}/services/simon/index.js`), 'utf8').replace('JSON.stringify({ service: name,', 'JSON.stringify({ version: 2, service: name,'));
      const d = await portside(home, 'deploy-service', 'simon', '3000', '--dir', dir, ...connection(), '--user', 'ubuntu');
      expect(d).toExitWith(0);
      expect((await getThroughCaddy(server, 'simon', '/')).body).toContain('"version":2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('undo, then a reboot: the original fork processes come back from the student\'s dump, and Caddy from the student\'s Caddyfile', async () => {
    const u = await portside(home, 'adopt', '--undo', '--discard-deploys', ...connection());
    expect(u).toExitWith(0);
    await reboot();
    await answering(['simon', 'startup']);
    expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode, p.pm2_env.pm_cwd, p.pm2_env.args])).toEqual([
      ['simon', 'fork_mode', `${HOME}/services/simon`, ['3000', 'simon']],
      ['startup', 'fork_mode', `${HOME}/services/startup`, ['4000', 'startup']],
    ]);
    expect(readFileSync(hostPathOf(ON_SERVER.caddyfile), 'utf8')).not.toContain('import');
  });

  test('adopt again with Caddy as the reboot left it (run by its own user, as on a real server): read and applied, then answers', async () => {
    const r = await portside(home, 'adopt', ...connection());
    expect(r).toExitWith(0);
    expect(r.stdout).toMatch(/Caddy {3}pid \d+ \(\/usr\/bin\/caddy\), runs \/etc\/caddy\/Caddyfile/);
    await answering(['simon', 'startup']);
    expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode])).toEqual([['simon', 'cluster_mode'], ['startup', 'cluster_mode']]);
  });
});

describeE2E('a service deployed after adoption comes back after a reboot', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home);
  });

  test('adopt, deploy-service notes 4100 (a new service), reboot: notes, simon and startup answer through Caddy', async () => {
    expect(await portside(home, 'adopt', ...connection())).toExitWith(0);
    const dir = mkdtempSync(join(tmpdir(), 'portside-reboot-notes-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'notes', version: '1.0.0', main: 'index.js' }));
      writeFileSync(join(dir, 'index.js'), "require('http').createServer((q, s) => s.end(JSON.stringify({ service: 'notes', method: q.method }))).listen(Number(process.argv[2] || process.env.PORT), '127.0.0.1');\n");
      expect(await portside(home, 'deploy-service', 'notes', '4100', '--dir', dir, ...connection(), '--user', 'ubuntu')).toExitWith(0);
      await answering(['notes', 'simon', 'startup']);
      await reboot();
      await answering(['notes', 'simon', 'startup']);
      expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode])).toEqual([['notes', 'cluster_mode'], ['simon', 'cluster_mode'], ['startup', 'cluster_mode']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeE2E('a reboot of an adopted server whose Node is the system\'s (on the PATH, pm2 installed globally)', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home, 'system');
  });

  test('adopt, reboot: the services come back in cluster mode on the system Node that ~/.portside/node links to', async () => {
    expect(readFileSync('/var/lib/portside-course/systemd/pm2-ubuntu.service', 'utf8')).toMatch(/^ExecStart=\/\S+\/node_modules\/pm2\/bin\/pm2 resurrect$/m);
    expect(await portside(home, 'adopt', ...connection())).toExitWith(0);
    await reboot();
    await answering(['simon', 'startup']);
    const node = onServerRealpath(`${HOME}/.portside/node`);
    expect(node).toBe(onServerRealpath(process.execPath));
    for (const p of pm2List()) {
      expect(p.pm2_env.exec_mode).toBe('cluster_mode');
      expect(onServerRealpath(`/proc/${p.pid}/exe`)).toBe(node);
    }
  });
});
