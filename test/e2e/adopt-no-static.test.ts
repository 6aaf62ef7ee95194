/**
 * A course server with no static site (lib/targets/course variant `no-static`: one `:80` site routing
 * /simon/ and /startup/, nothing served from files). Adopt has no static root to keep its Caddyfile in,
 * and /etc/caddy/Caddyfile will import that file when Caddy starts afresh, as its own user (`caddy`,
 * caddy.service's User=), to whom the 0750 home is closed. Before lib/adopt/caddy-reach.ts the file stayed
 * in ~/.portside/www/caddy and a reboot left Caddy failing with "File to import not found". Now adopt puts
 * it in Caddy's default root, /usr/share/caddy, which the course gives to ubuntu; when ubuntu cannot write
 * there, the plan refuses with the problem and its fix and nothing changes. Own namespaces: no e2e lock.
 */
import http from 'node:http';
import { chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COURSE_PATHS, COURSE_UID, rebootCourse } from '../../lib/targets/course';
import { courseServer, CourseServer, courseServerUnavailable, hostPathOf, newHome, ON_SERVER, portside, serverState, useCourseServer } from '../support/course-server';
import { pm2List } from '../support/adopt-load';

const why = courseServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e adopt-no-static tests skipped: ${why}`);

jest.setTimeout(300_000);

const HOME = ON_SERVER.home;
const WWW = `${ON_SERVER.staticRoot}/.portside-www`;
let home: string;
let server: CourseServer;
/** The server before adoption, for undo to give back. */
let original: ReturnType<typeof serverState>;
const connection = () => ['--host', server.address, '--key', server.keyPath];

/** One GET through Caddy's `:80` site to /<name>/probe: status and body. */
function getPath(name: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: server.address, port: 80, path: `/${name}/probe`, timeout: 10_000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).on('timeout', function (this: { destroy: (e: Error) => void }) { this.destroy(new Error('timeout')); });
  });
}

/** Poll until every service answers through Caddy with its own JSON (after a reboot they take a moment). */
async function answering(names: readonly string[], ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await Promise.all(names.map((n) => getPath(n).catch((e: Error) => ({ status: 0, body: e.message }))));
    if (got.every((g, i) => g.status === 200 && g.body.includes(`"service":"${names[i]}"`))) return;
    if (Date.now() > deadline) throw new Error(`through Caddy: ${names.map((n, i) => `/${n}/ ${got[i].status} ${got[i].body.slice(0, 80)}`).join('; ')}; Caddy's log: ${readFileSync(join(COURSE_PATHS.logDir, 'caddy.log'), 'utf8').split('\n').filter((l) => /import|error/i.test(l)).slice(-3).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const reboot = () => rebootCourse((line) => process.stderr.write(`[reboot] ${line}\n`));

useCourseServer();

describeE2E('adopting a course server with no static site', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('no-static', home);
  });

  test('/usr/share/caddy left to root (as Caddy\'s package leaves it): the plan says caddy-cannot-read with its fix, adopt refuses, nothing changed', async () => {
    chownSync(COURSE_PATHS.shareCaddy, 0, 0);
    try {
      const before = serverState();
      const plan = await portside(home, 'adopt', '--dry-run', ...connection());
      expect(plan).toExitWith(0);
      expect(plan.stdout).toContain('  caddy-cannot-read: ubuntu cannot create folders in /usr/share/caddy, Caddy\'s default root (this server has no static site), mode 755, owner uid 0: Portside keeps its Caddyfile there, where Caddy (user caddy, from the running Caddy (pid ');
      expect(plan.stdout).toContain('      fix: give the folder to ubuntu, as the course does for /usr/share/caddy (sudo chown ubuntu /usr/share/caddy), then run adopt again');
      const r = await portside(home, 'adopt', ...connection());
      expect(r).toExitWith(1);
      expect(r.stderr).toMatch(/^portside adopt: not adopting: the plan has problems to fix first: ubuntu cannot create folders in \/usr\/share\/caddy, .*\(fix: give the folder to ubuntu, .*\); nothing was changed$/m);
      expect(serverState()).toEqual(before);
      expect(existsSync(hostPathOf(`${HOME}/.portside`))).toBe(false);
      expect(existsSync(hostPathOf(WWW))).toBe(false);
    } finally {
      chownSync(COURSE_PATHS.shareCaddy, COURSE_UID, COURSE_UID);
    }
  });

  test('adopt: Portside\'s Caddyfile is in /usr/share/caddy/.portside-www/caddy (not the home), /etc/caddy/Caddyfile imports it, ~/.portside/caddy links there', async () => {
    original = serverState();
    const r = await portside(home, 'adopt', ...connection());
    expect(r).toExitWith(0);
    expect(r.stdout).toContain('  Files   Portside\'s Caddyfile and static releases in /usr/share/caddy/.portside-www (Caddy\'s user can read it, ubuntu can write it)');
    expect(readFileSync(hostPathOf(ON_SERVER.caddyfile), 'utf8')).toMatch(/^import \/usr\/share\/caddy\/\.portside-www\/caddy\/Caddyfile$/m);
    expect(readlinkSync(hostPathOf(`${HOME}/.portside/caddy`))).toBe(`${WWW}/caddy`);
    expect(lstatSync(hostPathOf(`${WWW}/caddy/Caddyfile`)).isFile()).toBe(true);
    expect(JSON.parse(readFileSync(hostPathOf(`${HOME}/.portside/registry.json`), 'utf8')).paths).toEqual({ www: WWW, caddyfile: `${HOME}/.portside/caddy/Caddyfile` });
    await answering(['simon', 'startup']);
  });

  test('after a reboot Caddy (user caddy) loads the import: simon and startup answer at their paths, in cluster mode', async () => {
    await reboot();
    await answering(['simon', 'startup']);
    expect(pm2List().map((p) => [p.name, p.pm2_env.exec_mode])).toEqual([['simon', 'cluster_mode'], ['startup', 'cluster_mode']]);
  });

  test('undo: the student\'s Caddyfile byte for byte, nothing of Portside\'s left in /usr/share/caddy or the home; adopt again', async () => {
    expect(await portside(home, 'adopt', '--undo', ...connection())).toExitWith(0);
    const now = serverState();
    expect(now.caddyfileSha256).toBe(original.caddyfileSha256);
    const shared = (s: typeof now) => s.files.filter((f) => f.startsWith(COURSE_PATHS.shareCaddy));
    expect(shared(now)).toEqual(shared(original));
    expect(existsSync(hostPathOf(`${HOME}/.portside`))).toBe(false);
    await answering(['simon', 'startup']);
    expect(await portside(home, 'adopt', ...connection())).toExitWith(0);
  });

  test('a later deploy (the agent rewrites the Caddyfile through ~/.portside/caddy) lands where Caddy reads it: notes answers after another reboot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portside-no-static-notes-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'notes', version: '1.0.0', main: 'index.js' }));
      writeFileSync(join(dir, 'index.js'), "require('http').createServer((q, s) => s.end(JSON.stringify({ service: 'notes', method: q.method }))).listen(Number(process.argv[2] || process.env.PORT), '127.0.0.1');\n");
      expect(await portside(home, 'deploy-service', 'notes', '4100', '--dir', dir, ...connection(), '--user', 'ubuntu')).toExitWith(0);
      expect(readFileSync(hostPathOf(`${WWW}/caddy/Caddyfile`), 'utf8')).toContain('handle_path /notes/*');
      await reboot();
      await answering(['notes', 'simon', 'startup']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('doctor reads Portside\'s Caddyfile where the registry names it (~/.portside/caddy, the link): drift.caddyfile passes, nothing fails', async () => {
    const r = await portside(home, 'doctor', '--json', ...connection(), '--user', 'ubuntu');
    expect(r).toExitWith(0);
    const results = (JSON.parse(r.stdout) as { results: Array<{ id: string; status: string }> }).results;
    expect(results.find((x) => x.id === 'drift.caddyfile')?.status).toBe('pass');
    expect(results.filter((x) => x.status === 'fail')).toEqual([]);
  });
});
