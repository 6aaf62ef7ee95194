/**
 * The kept SSH connection (lib/ssh/keeper) against the shared stand-in, with the real CLI as a child
 * process and the real agent: a redeploy within the idle limit opens no SSH connection and is handed the
 * standby agent; it prints what a deploy without the keeper prints; the standby holds no lock; stopping
 * the stand-in's keepers (what `portside local down` does first) ends the keeper and its standby.
 */
import { cliProcess, type CliProcessRun } from '../support/cli-process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PATHS } from '../../lib/targets/local/constants';
import { keeperFor, stopKeepers } from '../../lib/ssh/keeper/keep';
import { resolveTarget } from '../../lib/targets/resolve-target';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { sampleAppSaying } from '../support/sample-app';
import { lockOwner, serviceUrl, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e kept-connection tests skipped: ${why}`);

const NAME = 'keeper-app';
const work = mkdtempSync(join(tmpdir(), 'portside-keeper-local-'));
const home = join(work, 'home');
const appSaying = sampleAppSaying(work);

/** The real CLI, as a user runs it, with the kept connection on (or off: PORTSIDE_SSH_PERSIST=0). */
function portside(persist: string, ...argv: string[]): Promise<CliProcessRun> {
  return cliProcess({ ...process.env, PORTSIDE_HOME: home, PORTSIDE_SSH_PERSIST: persist, PORTSIDE_TARGET: 'local', CI: '' }, ...argv);
}

/** A deploy's output with its timings taken out: what must not differ between a kept and a direct connection. */
const shape = (text: string): string => text.replace(/\d+(\.\d+)?\s?(ms|s)\b/g, 'T').replace(/\b\d{8}T?-?\d*[\w-]*/g, 'ID');

const sshdLogins = (): number => (readFileSync(PATHS.sshdLog, 'utf8').match(/Accepted publickey/g) ?? []).length;
const standbyPids = (server: LocalServer): string[] => {
  try {
    return execFileSync('pgrep', ['-u', server.user, '-f', 'agent.js --standby'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
};
/**
 * Standby agents on the stand-in that were not there before this file ran: the stand-in is shared, and a
 * keeper of another PORTSIDE home (a bench run's, a user's) keeps its own standby for up to its idle limit.
 */
let othersStandbys = new Set<string>();
const standbys = (server: LocalServer): string => standbyPids(server).filter((pid) => !othersStandbys.has(pid)).join(' ');

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${check.toString()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeE2E('the kept SSH connection to the stand-in', () => {
  let server: LocalServer;
  let files: NonNullable<ReturnType<typeof keeperFor>>;
  const keeperLog = (): string => (existsSync(files.log) ? readFileSync(files.log, 'utf8') : '');

  beforeAll(async () => {
    server = await ensureLocalServer();
    othersStandbys = new Set(standbyPids(server));
    const env = { PORTSIDE_HOME: home };
    files = keeperFor(await resolveTarget({ target: 'local', env }), env)!;
    await portside('0', 'remove-service', NAME, '--purge');
  }, 120_000);
  afterAll(async () => {
    await stopKeepers(server.address, server.sshPort, { PORTSIDE_HOME: home });
    await portside('0', 'remove-service', NAME, '--purge');
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('a redeploy within the idle limit uses the kept connection and its standby agent, and prints what a direct one prints', async () => {
    const dir = appSaying('kept hello');
    const first = await portside('2m', 'deploy-service', NAME, '--dir', dir);
    expect(first).toMatchObject({ code: 0 });
    // The first command connected directly and left a keeper behind, with a standby agent for this version.
    await until(() => keeperLog().includes('standby started'));
    await until(() => standbys(server) !== '');
    expect(lockOwner(server)).toBeNull(); // the standby holds no lock

    const logins = sshdLogins();
    const kept = await portside('2m', 'deploy-service', NAME, '--dir', dir);
    expect(kept.code).toBe(0);
    expect(keeperLog()).toMatch(/deploy: handed the standby agent/);
    const direct = await portside('0', 'deploy-service', NAME, '--dir', dir);
    expect(direct.code).toBe(0);
    expect(shape(kept.out)).toBe(shape(direct.out));
    expect(shape(kept.err)).toBe(shape(direct.err));
    // Only the direct deploy logged in: the kept one rode the keeper's connection.
    await until(() => sshdLogins() >= logins + 1);
    expect(sshdLogins()).toBe(logins + 1);
    expect((await viaCaddy(server, serviceUrl(server, NAME))).body).toContain('kept hello');
  }, 120_000);

  test('a changed service deploys through the keeper and goes live', async () => {
    const r = await portside('2m', 'deploy-service', NAME, '--dir', appSaying('kept again'));
    expect(r.code).toBe(0);
    expect((await viaCaddy(server, serviceUrl(server, NAME))).body).toContain('kept again');
    expect((keeperLog().match(/deploy: handed the standby agent/g) ?? []).length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  test('stopping the stand-in\'s keepers (local down does it first) ends the keeper and its standby agent', async () => {
    await until(() => standbys(server) !== '');
    const { pid } = JSON.parse(readFileSync(files.info, 'utf8')) as { pid: number };
    expect(await stopKeepers(server.address, server.sshPort, { PORTSIDE_HOME: home })).toBe(1);
    await until(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    await until(() => standbys(server) === '');
    expect(existsSync(files.socket)).toBe(false);
  }, 60_000);
});
