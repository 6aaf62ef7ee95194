/**
 * A deploy's health checks prove the answer came from the release it started: a stray process on the
 * service's port is named (with its pid) and refused before anything switches, and a failed probe
 * leaves none of the processes it started behind.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { cli, testHome } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { lockOwner, snapshot } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e health identity tests skipped: ${why}`);

const FIXTURES = join(__dirname, '..', 'fixtures', 'services');
const SAMPLE = join(__dirname, '..', '..', 'assets', 'samples', 'simon');
const NAME = 'identity-app';
const PORT = '3997';

/** Processes of the deploy user whose command line matches `pattern`. */
function processesOf(server: LocalServer, pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-a', '-u', server.user, '-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describeE2E('health checks know who answered', () => {
  let server: LocalServer;
  let stray: ChildProcess | undefined;

  beforeAll(async () => {
    server = await ensureLocalServer();
    await cli('remove-service', NAME, '--purge', '--target', 'local');
  }, 120_000);

  afterEach(() => {
    // runuser keeps node as its child: end the whole group, or node holds the port (and jest waits).
    if (stray?.pid) process.kill(-stray.pid, 'SIGKILL');
    stray?.stdout?.destroy();
    stray = undefined;
  });

  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
  }, 60_000);

  test('a stray process holding the port is named with its pid, and nothing changes', async () => {
    // Not started by Portside: a plain node server of the deploy user's, on the port the service asks for.
    stray = spawn('ip', ['netns', 'exec', 'portside', 'runuser', '-u', server.user, '--', 'node', '-e',
      `require('http').createServer((q, s) => s.end('stray')).listen(${PORT}, '127.0.0.1', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    await new Promise((r) => stray!.stdout!.once('data', r));
    const before = snapshot(server);
    const r = await cli('deploy-service', NAME, PORT, '--dir', SAMPLE, '--target', 'local', '--health-timeout', '5');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(new RegExp(`port ${PORT} is already in use by pid \\d+ \\(node -e .*\\), not by Portside's pm2`));
    expect(r.err).not.toMatch(/stopped running right after/);
    const after = snapshot(server);
    expect(after.registry).toBe(before.registry);
    expect(after.caddyfile).toBe(before.caddyfile);
    expect(after.processes).toBe(before.processes);
  }, 60_000);

  test('a failed probe of an `npm start` service leaves none of its processes (npm, sh, sleep, node) behind', async () => {
    expect(processesOf(server, 'sleep 287')).toEqual([]);
    const r = await cli('deploy-service', NAME, '--dir', join(FIXTURES, 'npm-start-stray'), '--target', 'local', '--health-timeout', '3');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/never listened on its port within 3s/);
    expect(processesOf(server, 'sleep 287')).toEqual([]);
    expect(processesOf(server, 'npm-start-stray|npm run --silent start')).toEqual([]);
  }, 60_000);

  test('the probe processes of a killed agent are ended by the next deploy, which says so', async () => {
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'portside.js'), 'deploy-service', NAME, '--dir', join(FIXTURES, 'npm-start-stray'),
      '--target', 'local', '--health-timeout', '30'], { env: { ...process.env, PORTSIDE_HOME: testHome }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout!.resume();
    const probing = new Promise<void>((resolve) => child.stderr!.on('data', (d) => {
      err += d;
      if (/^→ probe/m.test(err)) resolve();
    }));
    await probing;
    const deadline = Date.now() + 10_000;
    while (!processesOf(server, 'sleep 287').length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // The agent (the lock's owner) dies at once: SIGKILL ends it but not its probe's process group.
    const owner = lockOwner(server)!;
    process.kill(owner.pid, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(processesOf(server, 'sleep 287').length).toBeGreaterThan(0);
    const next = await cli('deploy-service', NAME, '--dir', SAMPLE, '--target', 'local');
    expect(next.code).toBe(0);
    expect(next.err).toMatch(/ended the probe processes the killed deploy left running/);
    expect(processesOf(server, 'sleep 287')).toEqual([]);
  }, 90_000);
});
