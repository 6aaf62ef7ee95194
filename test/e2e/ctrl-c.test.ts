/**
 * Ctrl-C during a deploy, with a real SIGINT to the real CLI (a child process) at a step, against the
 * shared local server. The agent ignores a cut connection, so what the CLI says must match what the
 * server then does: "stopped: nothing … switched" leaves the old release serving; "interrupted after
 * the switch" lets the new one go live. Exit code 130 either way.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentLink, releasesDir } from '../../lib/remote/layout';
import { cli, testHome } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { lockOwner, serviceUrl, userHome, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e Ctrl-C tests skipped: ${why}`);

const ROOT = join(__dirname, '..', '..');
const NAME = 'ctrlc-app';
const work = mkdtempSync(join(tmpdir(), 'portside-ctrlc-'));

/** The express fixture (real dependencies: its install step takes seconds), saying `text`. */
function expressSaying(text: string): string {
  const dir = mkdtempSync(join(work, 'express-'));
  cpSync(join(ROOT, 'test', 'fixtures', 'services', 'express-app'), dir, { recursive: true, filter: (p) => !p.includes('node_modules') });
  const file = join(dir, 'index.js');
  writeFileSync(file, readFileSync(file, 'utf8').replace('says ${process.env.GREETING || \'hi\'}', `says ${text}`));
  return dir;
}

/** Run the real CLI; send SIGINT `presses` times (50 ms apart) when stderr shows `→ <step>`. */
function deployWithCtrlC(dir: string, step: string, presses = 1): Promise<{ code: number | null; signal: string | null; err: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'portside.js'), 'deploy-service', NAME, '--dir', dir, '--target', 'local', '--health-timeout', '10'], {
    env: { ...process.env, PORTSIDE_HOME: testHome, PORTSIDE_TARGET: 'local' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let struck = false;
  child.stderr!.on('data', (d) => {
    err += d;
    if (!struck && err.split('\n').some((l) => l.trim() === `→ ${step}`)) {
      struck = true;
      for (let i = 0; i < presses; i++) setTimeout(() => child.kill('SIGINT'), i * 50);
    }
  });
  child.stdout!.resume();
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, err })));
}

describeE2E('Ctrl-C during deploy-service', () => {
  let server: LocalServer;
  /** A path of the server map, in the deploy user's home (the stand-in shares this filesystem). */
  const onHome = (relative: string) => join(userHome(server), relative);
  const current = () => readlinkSync(onHome(currentLink(NAME)));
  /** The agent carries on after the CLI leaves: wait until it has released the lock. */
  const agentDone = async () => {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && lockOwner(server)?.what === `deploy-service ${NAME}`) await new Promise((r) => setTimeout(r, 200));
    expect(lockOwner(server)?.what).not.toBe(`deploy-service ${NAME}`);
  };
  const page = async () => (await viaCaddy(server, serviceUrl(server, NAME))).body;
  const baseline = async (text: string) => {
    const r = await cli('deploy-service', NAME, '--dir', expressSaying(text), '--target', 'local');
    expect(r).toExitWith(0);
    expect(await page()).toContain(text);
  };

  beforeAll(async () => {
    server = await ensureLocalServer();
    await cli('remove-service', NAME, '--purge', '--target', 'local');
  }, 120_000);
  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('at install (before the switch): the agent is asked to stop, says so, nothing is switched, the old release serves', async () => {
    await baseline('before ctrl-c one');
    const before = current();
    const releases = readdirSync(onHome(releasesDir(NAME))).filter((n) => !n.startsWith('.')).sort();
    // A changed lockfile makes the install run npm ci (seconds), so the stop lands during it.
    const dir = expressSaying('must not go live');
    const lockFile = join(dir, 'package-lock.json');
    writeFileSync(lockFile, `${readFileSync(lockFile, 'utf8')}\n`);
    const run = await deployWithCtrlC(dir, 'install');
    expect(run.code).toBe(130);
    expect(run.err).toMatch(/^Ctrl-C: asking the server to stop \(it is at install\) before it switches anything; Ctrl-C again to leave at once$/m);
    expect(run.err).toMatch(/^stopped: nothing (was|will be) switched/m);
    expect(run.err).not.toMatch(/portside deploy-service:/);
    await agentDone();
    expect(current()).toBe(before);
    expect(await page()).toContain('before ctrl-c one');
    // The unfinished release was removed (old ones may be pruned aside by other deploys, never added).
    expect(readdirSync(onHome(releasesDir(NAME))).filter((id) => !id.startsWith('.') && !releases.includes(id))).toEqual([]);
  }, 120_000);

  test('at verify (after the switch): the CLI says the server finishes, and the new release goes live', async () => {
    await baseline('before ctrl-c two');
    const run = await deployWithCtrlC(expressSaying('went live after ctrl-c'), 'verify');
    expect(run.code).toBe(130);
    expect(run.err).toMatch(/^interrupted after the switch \(at verify\): the server finishes the change on its own, or puts the previous version back if its checks fail; check with portside services$/m);
    await agentDone();
    expect(await page()).toContain('went live after ctrl-c');
    expect(existsSync(onHome(currentLink(NAME)))).toBe(true);
  }, 120_000);

  test('a second Ctrl-C leaves at once, saying what the server may still do', async () => {
    await baseline('before ctrl-c three');
    const dir = expressSaying('second press');
    const lockFile = join(dir, 'package-lock.json');
    writeFileSync(lockFile, `${readFileSync(lockFile, 'utf8')}\n\n`);
    const run = await deployWithCtrlC(dir, 'install', 2);
    expect(run.code).toBe(130);
    expect(run.err).toMatch(/^leaving now \(second Ctrl-C\)/m);
    await agentDone();
    // Whichever it was told, the server ends in a consistent state: the old release or the new one serving.
    expect(await page()).toMatch(/before ctrl-c three|second press/);
  }, 120_000);
});
