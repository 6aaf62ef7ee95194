/**
 * The real CLI as a child process against the shared local stand-in server, through the commands the
 * README gives (`node bin/portside.js …` and `npm run deploy-service -- …`), with stderr a pipe as in
 * CI: what a terminal would show badly (percent lines) and what Node itself reads from argv. Then the
 * conventions every command keeps (#11): a --dry-run changes nothing on the server (registry, Caddyfile,
 * pm2, release folders and links compared before and after), --json is one document, logs go to stdout.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CURRENT_LINK, DEPLOYS_FILE, RELEASES_SUBDIR, serviceDir } from '../../lib/remote/layout';
import { cli, testHome } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { snapshot, userHome } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e CLI process tests skipped: ${why}`);

const ROOT = join(__dirname, '..', '..');
const NAME = 'e2e-cli-process';
const work = mkdtempSync(join(tmpdir(), 'portside-cli-process-'));
// After both describe blocks (their own afterAll hooks run first).
afterAll(() => rmSync(work, { recursive: true, force: true }));
const STACK = /^\s+at .+:\d+:\d+\)?$|Unhandled 'error' event|node:internal/m;

interface Run { code: number | null; out: string; err: string }

function run(cmd: string, args: string[]): Promise<Run> {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, PORTSIDE_HOME: testHome }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

describeE2E('the real CLI process against the local server', () => {
  const app = join(work, 'app');
  cpSync(join(ROOT, 'assets', 'samples', 'simon'), app, { recursive: true });

  beforeAll(async () => {
    await ensureLocalServer();
    await cli('remove-service', NAME, '--purge', '--target', 'local');
  }, 120_000);

  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
  }, 60_000);

  test('stderr is not a terminal: no percent lines; every step line ends with its time', async () => {
    const r = await run(process.execPath, [join(ROOT, 'bin', 'portside.js'), 'deploy-service', NAME, '--dir', app, '--target', 'local']);
    expect(r).toExitWith(0);
    expect(r.err).not.toContain('uploading');
    expect(r.err).not.toContain('%');
    const started = [...r.err.matchAll(/^→ (\S+)$/gm)].map((m) => m[1]);
    const ended = [...r.err.matchAll(/^✓ (\S+) \((\d+\.\d\d) s\)$/gm)].map((m) => m[1]);
    expect(started).toEqual(expect.arrayContaining(['upload', 'switch']));
    expect(ended).toEqual(started);
  }, 120_000);

  describe('an env file that sets NODE_OPTIONS is data for the server, never options for this process', () => {
    const marker = join(work, 'node-options-ran');
    const hostile = join(work, 'mark.js');
    writeFileSync(hostile, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran in pid ' + process.pid);\n`);
    const envFile = join(work, 'prod.env');
    writeFileSync(envFile, `NODE_OPTIONS=--require ${hostile}\nGREETING=hi\n`);

    test.each<[string, string, string[]]>([
      ['node bin/portside.js', process.execPath, [join(ROOT, 'bin', 'portside.js'), 'deploy-service']],
      ['npm run deploy-service --', 'npm', ['run', '-s', 'deploy-service', '--']],
    ])('%s x --service-env FILE --dry-run: Portside reads the file as data (no marker, no stack trace)', async (_how, cmd, prefix) => {
      const r = await run(cmd, [...prefix, NAME, '--dir', app, '--service-env', envFile, '--dry-run', '--target', 'local']);
      expect(existsSync(marker)).toBe(false);
      expect(r.err).not.toMatch(STACK);
      expect(r.err).not.toContain(hostile);
      // The server's env rules refuse NODE_OPTIONS by its line number; without them the plan is printed.
      expect(r.err).toMatch(/prod\.env: line 1 sets NODE_OPTIONS|env file: uploaded with mode 0600/);
    }, 60_000);

    test('npm run deploy-service -- x --service-env FILE (GREETING only) --dry-run: the plan says the env file is uploaded', async () => {
      const plain = join(work, 'plain.env');
      writeFileSync(plain, 'GREETING=hi\n');
      const r = await run('npm', ['run', '-s', 'deploy-service', '--', NAME, '--dir', app, '--service-env', plain, '--dry-run', '--target', 'local']);
      expect(r.err).toContain('env file: uploaded with mode 0600 (contents not shown)');
      expect(r).toExitWith(0);
    }, 60_000);
  });
});

/** What a dry run must leave as it was: registry, Caddyfile, pm2 (pids too), and every release folder and link. */
function serverState(server: LocalServer, name: string): Record<string, unknown> {
  const home = userHome(server);
  const www = (JSON.parse(snapshot(server).registry) as { paths: { www: string } }).paths.www;
  const releases = (base: string): { releases: string[]; current: string | null; history: string | null } => ({
    // Dot names are Portside's own background work (a copy for the next deploy, trash being deleted).
    releases: existsSync(join(base, RELEASES_SUBDIR)) ? readdirSync(join(base, RELEASES_SUBDIR)).filter((n) => !n.startsWith('.')).sort() : [],
    current: existsSync(join(base, CURRENT_LINK)) ? readlinkSync(join(base, CURRENT_LINK)) : null,
    history: existsSync(join(base, DEPLOYS_FILE)) ? readFileSync(join(base, DEPLOYS_FILE), 'utf8') : null,
  });
  return { ...snapshot(server, [name]), service: releases(join(home, serviceDir(name))), www: releases(www) };
}

describeE2E('dry runs, --json and logs, through the real process', () => {
  const DRY = 'e2e-cli-dry';
  const app = join(work, 'dry-app');
  const site = join(work, 'dry-site');
  let server: LocalServer;
  const portside = (...args: string[]): Promise<Run> => run(process.execPath, [join(ROOT, 'bin', 'portside.js'), ...args, '--target', 'local']);

  beforeAll(async () => {
    server = await ensureLocalServer();
    cpSync(join(ROOT, 'assets', 'samples', 'simon'), app, { recursive: true });
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, 'index.html'), `<!doctype html><title>dry</title><p>${Date.now()}</p>\n`);
    // Two releases, so a rollback has somewhere to go; then a change that is never deployed.
    for (const word of ['one', 'two']) {
      writeFileSync(join(app, 'word.txt'), word);
      expect((await cli('deploy-service', DRY, '--dir', app, '--target', 'local')).code).toBe(0);
    }
    writeFileSync(join(app, 'word.txt'), 'three');
  }, 240_000);

  afterAll(async () => {
    await cli('remove-service', DRY, '--purge', '--target', 'local');
  }, 60_000);

  test.each<[string, string[], RegExp, RegExp]>([
    ['deploy-service', ['deploy-service', DRY, '--dir', app, '--dry-run'], /^deploy-service e2e-cli-dry \(dry run: nothing changed\) would deploy \S+ on port \d+: https:\/\//, /^plan for e2e-cli-dry \(dry run: nothing is changed\)$/m],
    ['deploy-files', ['deploy-files', '--dir', site, '--dry-run'], /^deploy-files \(dry run: nothing changed\) would publish \S+ as release \S+ \(1 of 1 files sent\): https:\/\//, /^ {2}release \S+: 1 files to send/m],
    ['rollback', ['rollback', DRY, '--dry-run'], /^rollback e2e-cli-dry \(dry run: nothing changed\) would go from \S+ to \S+ on port \d+/, /^$|./],
    ['remove-service --purge', ['remove-service', DRY, '--purge', '--dry-run'], /^remove-service e2e-cli-dry \(dry run: nothing changed\) would stop its process, remove its route and free port \d+, delete its files$/m, /^ {2}route: would remove e2e-cli-dry → \d+ from the registry and the Caddyfile/m],
    ['sync-config', ['sync-config', '--dry-run'], /nothing was changed/, /^$|./],
  ])('%s --dry-run: one line on stdout, the plan on stderr, and the server exactly as it was', async (_name, args, out, plan) => {
    const before = serverState(server, DRY);
    const r = await portside(...args);
    expect(r.err).not.toMatch(STACK);
    expect(r).toExitWith(0);
    expect(r.out.trimEnd().split('\n')).toHaveLength(1);
    expect(r.out).toMatch(out);
    expect(r.err).toMatch(plan);
    expect(serverState(server, DRY)).toEqual(before);
  }, 60_000);

  test('remove-service --dry-run of a service that is not there fails like the real one would (exit 1)', async () => {
    const r = await portside('remove-service', 'e2e-cli-nobody', '--dry-run');
    expect(r).toExitWith(1);
    expect(r.err).toMatch(/^portside remove-service: there is no service "e2e-cli-nobody" on this server$/m);
    expect(r.out).toBe('');
  }, 60_000);

  test.each<[string, string[]]>([
    ['services --json', ['services', '--json']],
    ['local status --json', ['local', 'status', '--json']],
    ['doctor --json', ['doctor', '--json']],
  ])('%s prints exactly one JSON document on stdout, indented by two spaces', async (_title, args) => {
    const r = await run(process.execPath, [join(ROOT, 'bin', 'portside.js'), ...args, ...(args[0] === 'local' ? [] : ['--target', 'local'])]);
    expect(r.err).not.toMatch(STACK);
    expect([0, 1]).toContain(r.code); // doctor exits 1 when a check fails; its document is printed all the same
    const doc = JSON.parse(r.out);
    expect(r.out).toBe(`${JSON.stringify(doc, null, 2)}\n`);
  }, 120_000);

  test('logs prints the service\'s lines on stdout, whole', async () => {
    const r = await portside('logs', DRY, '-n', '20');
    expect(r).toExitWith(0);
    expect(r.out).toMatch(/simon listening on \d+$/m);
    expect(r.err).not.toMatch(/simon listening/);
  }, 60_000);
});
