/**
 * Issue #13, finding 2: install scripts ran on the server as the deploy user, and a `postinstall: rm -rf ~`
 * took ~/.ssh, the registry, ~/.pm2 and every service's releases. Against the shared stand-in, with a
 * service whose own postinstall and whose `file:` dependency's postinstall both run `rm -rf ~` and then
 * leave a marker naming the user they ran as:
 *  - by default neither runs, and the deploy says so;
 *  - allowed in package.json "allowScripts", they run as portside-build, and the deploy user's files are intact;
 *  - an allowed script that fails is reported truthfully ("nothing was switched") — and it is true;
 *  - without the sudo rule, allowed scripts are refused, never run as the deploy user.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRegistry } from '../../lib/registry';
import { currentLink, REGISTRY_FILE, SERVICES_DIR } from '../../lib/remote/layout';
import { BUILD_SUDOERS, BUILD_USER, ensureBuildUser } from '../../lib/targets/local/build-user';
import { cli } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { pm2Processes, serviceUrl, userHome, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e install-script tests skipped: ${why}`);

const FIXTURE = join(__dirname, '..', 'fixtures', 'services', 'install-rm-rf-home');
const NAME = 'install-scripts';
const ALLOW_BOTH = { 'install-rm-rf-home': true, 'rm-rf-dep': true };
const work = mkdtempSync(join(tmpdir(), 'portside-install-scripts-'));
// The service's own postinstall marks the home it emptied; the dependency's marks its own folder.
const MARKERS = ['rm-rf-home-ran', 'rm-rf-dep-ran'];
const depMarker = (server: LocalServer) => join(userHome(server), currentLink(NAME), 'rm-rf-dep', 'rm-rf-dep-ran');

/** A copy of the fixture; `edit` changes its package.json. */
function fixture(edit: (pkg: Record<string, any>) => void = () => {}): string {
  const dir = mkdtempSync(join(work, 'app-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const file = join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  edit(pkg);
  writeFileSync(file, JSON.stringify(pkg, null, 2));
  return dir;
}

const homeOf = (user: string): string => execFileSync('getent', ['passwd', user]).toString().split(':')[5];
const deploy = (dir: string) => cli('deploy-service', NAME, '--dir', dir, '--target', 'local', '--health-timeout', '5');

/** Everything of the deploy user a script running as it could destroy, and what other services answer. */
async function deployUserState(server: LocalServer) {
  const home = userHome(server);
  const registry = readFileSync(join(home, REGISTRY_FILE), 'utf8');
  const reg = parseRegistry(registry);
  const others = Object.keys(reg.services).filter((n) => n !== NAME).sort();
  const answers: Record<string, number | string> = {};
  for (const n of others) answers[n] = await viaCaddy(server, serviceUrl(server, n)).then((r) => r.status, (e) => String(e.code ?? e.message));
  const releases: Record<string, string> = {};
  for (const n of readdirSync(join(home, SERVICES_DIR)).filter((x) => x !== NAME)) {
    const current = join(home, currentLink(n));
    releases[n] = existsSync(current) ? `${readlinkSync(current)} ${readdirSync(current).length} entries` : 'no current';
  }
  return {
    authorizedKeys: readFileSync(join(home, '.ssh', 'authorized_keys'), 'utf8'),
    registry,
    caddyfile: readFileSync(reg.paths.caddyfile, 'utf8'),
    pm2Dump: existsSync(join(home, '.pm2', 'dump.pm2')),
    processes: pm2Processes(server, others),
    releases,
    answers,
  };
}

describeE2E('install scripts on the server (issue #13)', () => {
  let server: LocalServer;
  let url: string;
  let buildHome: string;
  const backup = join(work, 'backup');
  const clearMarkers = () => {
    for (const m of MARKERS) for (const home of [buildHome, userHome(server)]) rmSync(join(home, m), { force: true });
  };

  beforeAll(async () => {
    server = await ensureLocalServer();
    // A stand-in brought up before the build user existed gets it now (what `local up` does every time).
    ensureBuildUser(() => {});
    buildHome = homeOf(BUILD_USER);
    url = serviceUrl(server, NAME);
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    clearMarkers();
    // A safety net only: if a script ever reached the deploy user's home, the next suites still get in.
    cpSync(join(userHome(server), '.ssh'), join(backup, '.ssh'), { recursive: true });
  }, 180_000);

  afterAll(async () => {
    const keys = join(userHome(server), '.ssh', 'authorized_keys');
    if (!existsSync(keys)) cpSync(join(backup, '.ssh'), join(userHome(server), '.ssh'), { recursive: true });
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    clearMarkers();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('by default no install script runs, the deploy succeeds and the note names each skipped one', async () => {
    const r = await deploy(fixture());
    expect(r.err).not.toMatch(/portside deploy-service:/);
    expect(r).toExitWith(0);
    expect(r.err).toMatch(/install scripts skipped \(off by default on the server\): this service's own postinstall \(package "install-rm-rf-home"\), rm-rf-dep@1\.0\.0/);
    expect(r.err).toContain('"allowScripts": { "install-rm-rf-home": true, "rm-rf-dep": true }');
    for (const m of MARKERS) {
      expect(existsSync(join(buildHome, m))).toBe(false);
      expect(existsSync(join(userHome(server), m))).toBe(false);
    }
    expect(existsSync(depMarker(server))).toBe(false);
    // node_modules reached the release: the dependency is loaded.
    expect((await viaCaddy(server, url)).body).toBe('install-rm-rf-home: rm-rf-dep loaded');
  }, 90_000);

  test('allowed scripts that run `rm -rf ~` run as the build user and reach nothing of the deploy user', async () => {
    const before = await deployUserState(server);
    const r = await deploy(fixture((p) => { p.allowScripts = ALLOW_BOTH; }));
    expect(r.err).not.toMatch(/portside deploy-service:/);
    expect(r).toExitWith(0);
    expect(r.err).toContain(`install scripts ran as "${BUILD_USER}" for: rm-rf-dep, its own postinstall`);
    // They really ran, after `rm -rf ~`, as the build user: its home was emptied (.bashrc gone), then marked.
    expect(readFileSync(join(buildHome, 'rm-rf-home-ran'), 'utf8')).toBe(`${BUILD_USER}\n`);
    expect(existsSync(join(buildHome, '.bashrc'))).toBe(false);
    // The dependency's script ran too, and what it wrote in its folder reached the release.
    expect(readFileSync(depMarker(server), 'utf8')).toBe(`${BUILD_USER}\n`);
    for (const m of MARKERS) expect(existsSync(join(userHome(server), m))).toBe(false);
    expect(await deployUserState(server)).toEqual(before);
    expect((await viaCaddy(server, url)).body).toBe('install-rm-rf-home: rm-rf-dep loaded');
  }, 90_000);

  test('an allowed script that fails is reported as what it is: nothing switched, nothing touched', async () => {
    const current = readlinkSync(join(userHome(server), currentLink(NAME)));
    const before = await deployUserState(server);
    const pidsBefore = pm2Processes(server, [NAME]);
    clearMarkers();
    const r = await deploy(fixture((p) => {
      p.allowScripts = ALLOW_BOTH;
      p.scripts.postinstall = 'rm -rf ~; id -un > ~/rm-rf-home-ran; exit 3';
    }));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/install failed: nothing was switched; the running version was not touched/);
    expect(r.err).toMatch(new RegExp(`installing as "${BUILD_USER}" with the allowed install scripts \\(rm-rf-dep, its own postinstall\\) failed \\(exit 3\\)`));
    expect(readFileSync(join(buildHome, 'rm-rf-home-ran'), 'utf8')).toBe(`${BUILD_USER}\n`);
    // And it is true.
    expect(readlinkSync(join(userHome(server), currentLink(NAME)))).toBe(current);
    expect(pm2Processes(server, [NAME])).toBe(pidsBefore);
    expect(await deployUserState(server)).toEqual(before);
    expect((await viaCaddy(server, url)).body).toBe('install-rm-rf-home: rm-rf-dep loaded');
  }, 90_000);

  test('without the sudo rule, allowed scripts are refused, never run as the deploy user', async () => {
    clearMarkers();
    const aside = `${BUILD_SUDOERS}.aside`;
    renameSync(BUILD_SUDOERS, aside);
    let r;
    try {
      r = await deploy(fixture((p) => {
        // Another allow list than the running release's, so the deploy installs again.
        p.allowScripts = { 'install-rm-rf-home': true };
      }));
    } finally {
      renameSync(aside, BUILD_SUDOERS);
    }
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/install scripts are allowed for its own postinstall, but they run only as the separate user "portside-build", and `sudo -n -u portside-build` failed as portside: .*password is required/);
    expect(r.err).toMatch(/Nothing ran as portside/);
    for (const m of MARKERS) for (const home of [buildHome, userHome(server)]) expect(existsSync(join(home, m))).toBe(false);
    expect((await viaCaddy(server, url)).body).toBe('install-rm-rf-home: rm-rf-dep loaded');
  }, 90_000);
});
