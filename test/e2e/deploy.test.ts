/**
 * The deploy, end to end, against the shared local stand-in server: real sshd, Caddy, pm2, npm.
 * Every failure case ends with the same proof: the previous version still answers through Caddy, and
 * the registry, Caddyfile and pm2 processes are byte-for-byte what they were.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIRST_SERVICE_PORT } from '../../lib/ports';
import { currentLink, LOCK_DIR, RELEASE_ENV_FILE, releasesDir } from '../../lib/remote/layout';
import { cli } from '../support/cli';
import { sampleAppSaying } from '../support/sample-app';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { serviceUrl, snapshot, userHome, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e deploy tests skipped: ${why}`);

const FIXTURES = join(__dirname, '..', 'fixtures', 'services');
const SAMPLES = join(__dirname, '..', '..', 'assets', 'samples');
const NAME = 'e2e-app';
const work = mkdtempSync(join(tmpdir(), 'portside-e2e-'));

/** A copy of a sample whose page says `text`, so each deploy is recognisable through Caddy. */
const appSaying = sampleAppSaying(work);

const deploy = (...args: string[]) => cli('deploy-service', ...args, '--target', 'local');

describeE2E('deploy-service against the local server', () => {
  let server: LocalServer;
  let url: string;

  beforeAll(async () => {
    server = await ensureLocalServer();
    url = serviceUrl(server, NAME);
    // Leftovers of an earlier run must not decide this one.
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    await cli('remove-service', 'e2e-moved', '--purge', '--target', 'local');
  }, 180_000);

  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('deploys a new service on the next free port and routes Caddy to it', async () => {
    const r = await deploy(NAME, '--dir', appSaying('version one'));
    expect(r.err).not.toMatch(/portside deploy-service:/);
    expect(r).toExitWith(0);
    expect(r.out).toContain(url);
    const page = await viaCaddy(server, url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('version one');
    const registry = JSON.parse(snapshot(server).registry);
    expect(registry.services[NAME]).toBeGreaterThanOrEqual(FIRST_SERVICE_PORT);
  }, 60_000);

  test('a redeploy with nothing changed sends nothing, restarts nothing, reloads nothing', async () => {
    const first = await deploy(NAME, '--dir', appSaying('version one'));
    const before = snapshot(server, [NAME]);
    const again = await deploy(NAME, '--dir', appSaying('version one'));
    expect(first.code).toBe(0);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/up to date/);
    expect(snapshot(server, [NAME])).toEqual(before);
  }, 60_000);

  test('a redeploy switches to the new release without touching the routes', async () => {
    const before = snapshot(server);
    const r = await deploy(NAME, '--dir', appSaying('version two'));
    expect(r).toExitWith(0);
    expect((await viaCaddy(server, url)).body).toContain('version two');
    const after = snapshot(server);
    expect(after.registry).toBe(before.registry);
    expect(after.caddyfile).toBe(before.caddyfile);
    const releases = readdirSync(join(userHome(server), releasesDir(NAME))).filter((n) => !n.startsWith('.'));
    expect(releases.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  test('rollback goes back to the previous release without uploading', async () => {
    const r = await cli('rollback', NAME, '--target', 'local');
    expect(r).toExitWith(0);
    expect((await viaCaddy(server, url)).body).toContain('version one');
    const forward = await deploy(NAME, '--dir', appSaying('version three'));
    expect(forward.code).toBe(0);
    expect((await viaCaddy(server, url)).body).toContain('version three');
  }, 60_000);

  test('an env file reaches the service literally, with mode 0600, and is never printed', async () => {
    const env = join(work, 'prod.env');
    const secret = 'p4ss $(touch /tmp/portside-pwned) `id` "quoted"';
    writeFileSync(env, `GREETING='${secret}'\n# a comment\n`);
    const dir = mkdtempSync(join(work, 'env-'));
    cpSync(join(SAMPLES, 'simon'), dir, { recursive: true });
    writeFileSync(join(dir, 'index.js'), "require('http').createServer((q, r) => r.end('greeting=' + process.env.GREETING)).listen(Number(process.argv[2]));\n");
    const r = await deploy(NAME, '--dir', dir, '--service-env', env);
    expect(r).toExitWith(0);
    expect(`${r.out}\n${r.err}`).not.toContain('p4ss');
    expect((await viaCaddy(server, url)).body).toBe(`greeting=${secret}`);
    expect(existsSync('/tmp/portside-pwned')).toBe(false);
    const current = join(userHome(server), currentLink(NAME), RELEASE_ENV_FILE);
    expect(statSync(current).mode & 0o777).toBe(0o600);
  }, 60_000);

  describe('failures leave the previous version serving and change nothing', () => {
    let before: ReturnType<typeof snapshot>;
    let body: string;
    beforeAll(async () => {
      const r = await deploy(NAME, '--dir', appSaying('the good version'));
      expect(r).toExitWith(0);
      before = snapshot(server, [NAME]);
      body = (await viaCaddy(server, url)).body;
      expect(body).toContain('the good version');
    }, 60_000);

    afterEach(async () => {
      expect(snapshot(server, [NAME])).toEqual(before);
      expect((await viaCaddy(server, url)).body).toBe(body);
      const releases = readdirSync(join(userHome(server), releasesDir(NAME))).filter((n) => !n.startsWith('.'));
      expect(releases).toContain(readlink(join(userHome(server), currentLink(NAME))));
      expect(existsSync(join(userHome(server), LOCK_DIR))).toBe(false);
    });

    test.each([
      ['crash', /crashed at start \(exit code 1\)/, /crash at start: missing configuration/],
      ['wrong-port', /listens on port 8089, not on the port it was given/, /process\.argv\[2\]/],
      ['silent', /listens on its port but did not answer GET \//, /./],
    ])('a release that %s is refused with the reason', async (fixture, message, detail) => {
      const r = await deploy(NAME, '--dir', join(FIXTURES, fixture), '--health-timeout', '3');
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
      expect(r.err).toMatch(detail);
      expect(r.err).toMatch(/nothing was switched/);
    }, 60_000);

    test.each([
      [['22'], /port 22 is SSH, already served by the server's sshd/],
      [['443'], /port 443 is HTTPS, already served by Caddy/],
      [['2019'], /port 2019 is Caddy's admin API, already served by Caddy/],
      [['80.5'], /not a port number/],
      [['0x50'], /not a port number/],
      [['70000'], /not a TCP port/],
      [['50000'], /dynamic range/],
      [['1000'], /well-known range/],
    ])('port %j is refused before connecting', async (args, message) => {
      const r = await deploy(NAME, ...args, '--dir', appSaying('never deployed'));
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
    });

    test('a port taken by another service is refused with free ports suggested', async () => {
      const taken = JSON.parse(before.registry).services.simon ?? JSON.parse(before.registry).services.startup;
      const r = await deploy(NAME, String(taken), '--dir', appSaying('never deployed'));
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(new RegExp(`port ${taken} is already assigned to "\\w+"; free: \\d+, \\d+`));
    });

    test.each([
      ['Bad_Name', /must be a DNS label/],
      ['a;rm -rf ~', /must be a DNS label/],
      ['../etc', /must be a DNS label/],
      ['www', /reserved/],
    ])('service name %j is refused', async (name, message) => {
      const r = await deploy(name, '--dir', appSaying('never deployed'));
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
    });

    test.each([
      ['a missing folder', () => join(work, 'nope'), /does not exist/],
      ['a folder without package.json', () => mkdtempSync(join(work, 'empty-')), /has no package.json/],
      ['the root folder', () => '/', /refusing to deploy the root folder/],
      ['a file', () => join(FIXTURES, 'crash', 'index.js'), /is a file, not a folder/],
    ])('%s is refused', async (_what, dir, message) => {
      const r = await deploy(NAME, '--dir', dir());
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
    });

    test('--dry-run prints the plan and changes nothing', async () => {
      const r = await deploy(NAME, '--dir', appSaying('dry'), '--dry-run');
      expect(r).toExitWith(0);
      expect(r.err).toMatch(/dry run: nothing is changed/);
    });
  });

  test('moving a service to another port moves its route and frees the old port', async () => {
    const dir = appSaying('moving');
    expect((await deploy('e2e-moved', '--dir', dir)).code).toBe(0);
    const oldPort = JSON.parse(snapshot(server).registry).services['e2e-moved'];
    const newPort = oldPort + 100;
    const r = await deploy('e2e-moved', String(newPort), '--dir', dir);
    expect(r).toExitWith(0);
    const registry = JSON.parse(snapshot(server).registry);
    expect(registry.services['e2e-moved']).toBe(newPort);
    expect(snapshot(server).caddyfile).toContain(`127.0.0.1:${newPort}`);
    expect(snapshot(server).caddyfile).not.toContain(`127.0.0.1:${oldPort}`);
    expect((await viaCaddy(server, serviceUrl(server, 'e2e-moved'))).body).toContain('moving');
    const removed = await cli('remove-service', 'e2e-moved', '--purge', '--target', 'local');
    expect(removed).toExitWith(0);
    expect(JSON.parse(snapshot(server).registry).services['e2e-moved']).toBeUndefined();
    expect(snapshot(server).processes).not.toContain('e2e-moved');
  }, 90_000);

  test('the course\'s full-stack shape: the front end is built into public/, the back end serves it; a front-end change skips the probe', async () => {
    const dir = mkdtempSync(join(work, 'fullstack-'));
    cpSync(join(FIXTURES, 'fullstack'), dir, { recursive: true });
    const first = await deploy('e2e-full', '--dir', dir);
    expect(first.code).toBe(0);
    const fullUrl = serviceUrl(server, 'e2e-full');
    expect((await viaCaddy(server, fullUrl)).body).toContain('front end built v1');
    expect((await viaCaddy(server, `${fullUrl}api/x`)).body).toBe('{"api":"v1"}');
    const page = join(dir, 'src', 'index.html');
    writeFileSync(page, readFileSync(page, 'utf8').replace('v1', 'v2'));
    const second = await deploy('e2e-full', '--dir', dir);
    expect(second.code).toBe(0);
    expect(second.err).toMatch(/only front-end files changed: .* no probe/);
    expect((await viaCaddy(server, fullUrl)).body).toContain('front end built v2');
    expect((await cli('remove-service', 'e2e-full', '--purge', '--target', 'local')).code).toBe(0);
  }, 90_000);

  test('services --json lists every service with name, port, url, status', async () => {
    const r = await cli('services', '--json', '--target', 'local');
    expect(r).toExitWith(0);
    const rows = JSON.parse(r.out) as Array<Record<string, unknown>>;
    const mine = rows.find((x) => x.name === NAME)!;
    expect(mine).toMatchObject({ name: NAME, url, status: 'online' });
    expect(typeof mine.port).toBe('number');
  });
});

function readlink(p: string): string {
  return require('node:fs').readlinkSync(p).split('/').pop();
}
