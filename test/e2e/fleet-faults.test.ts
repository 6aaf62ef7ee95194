/**
 * A fleet command that fails, or is stopped with Ctrl-C, part-way (issue #10): against `local up
 * --servers 3`, server 2 is made to fail in a real, deterministic way (the app refuses to start there,
 * a folder its deploy user cannot write), or the real CLI gets a real SIGINT as server 2 starts. Each
 * case runs under GET+POST load through the load balancer and then checks the rule: every server is back
 * on the release it ran (`services --fleet` agrees), and the store's manifest is the same bytes as before.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Fleet, localFleet } from '../../lib/fleet/fleet-target';
import { storeClient } from '../../lib/fleet/release-store';
import { MANIFEST_KEY } from '../../lib/fleet/store-layout';
import { PACKAGE_ROOT } from '../../lib/package-root';
import { REGISTRY_FILE } from '../../lib/remote/layout';
import { readLocalFleet } from '../../lib/targets/local/fleet-description';
import { cli, testHome } from '../support/cli';
import { appSaying, failFile, homeOf, loadThroughLb, releaseOn } from '../support/fleet-app';
import type { Tally } from '../support/load-probe';
import { localServerUnavailable } from '../support/local-server';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e fleet fault tests skipped: ${why}`);

const NAME = 'fleet-faults';
const SERVERS = 3;
const work = mkdtempSync(join(tmpdir(), 'portside-fleet-faults-'));

/** What must be as it was after a failed or stopped fleet command. */
interface FleetState {
  readonly manifest: string;
  readonly releases: ReadonlyArray<string | null>;
  readonly sites: ReadonlyArray<string | null>;
}

describeE2E(`a fleet command failing or stopped part-way, on a local fleet of ${SERVERS}`, () => {
  let fleet: Fleet;
  let users: string[];
  let domain: string;
  const paths = (user: string) => (JSON.parse(readFileSync(join(homeOf(user), REGISTRY_FILE), 'utf8')) as { paths: { www: string; caddyfile: string } }).paths;
  const siteOn = (user: string): string | null => {
    try {
      return readlinkSync(join(paths(user).www, 'current'));
    } catch {
      return null;
    }
  };
  const manifestBytes = async (): Promise<string> => {
    const r = await storeClient(fleet.store).send(new GetObjectCommand({ Bucket: fleet.store.bucket, Key: MANIFEST_KEY }));
    return Buffer.from(await r.Body!.transformToByteArray()).toString('base64');
  };
  const state = async (): Promise<FleetState> => ({ manifest: await manifestBytes(), releases: users.map((u) => releaseOn(u, NAME)), sites: users.map(siteOn) });
  const site = (text: string): string => {
    const dir = mkdtempSync(join(work, 'site-'));
    writeFileSync(join(dir, 'index.html'), `<h1>${text}</h1>\n`);
    return dir;
  };

  /** Run `command` under load through the load balancer (from half a second before to half a second after). */
  async function underLoad<T>(label: string, command: () => Promise<T>): Promise<{ r: T; tally: Tally }> {
    const load = loadThroughLb(fleet.address, domain, NAME);
    await new Promise((res) => setTimeout(res, 500));
    const r = await command();
    await new Promise((res) => setTimeout(res, 500));
    const tally = await load.stop();
    console.log(`${label}: ${tally.sent} requests through the load balancer, ${tally.ok} ok, ${tally.failures.length} failed ${JSON.stringify(tally.failures.slice(0, 10))}, ${tally.retried.length} sent again after a keep-alive reset`);
    return { r, tally };
  }

  /** The rule: every server on the release it ran, the manifest the same bytes, and the fleet agrees. */
  async function expectAsBefore(before: FleetState): Promise<void> {
    expect(await state()).toEqual(before);
    const services = await cli('services', '--target', 'local', '--fleet');
    expect(services.out).not.toContain('DISAGREES');
    expect(services).toExitWith(0);
  }

  beforeAll(async () => {
    expect(await cli('local', 'up', '--servers', String(SERVERS))).toExitWith(0);
    fleet = await localFleet({ ...process.env, PORTSIDE_HOME: testHome });
    const local = readLocalFleet();
    users = local.servers.map((s) => s.user);
    domain = local.domain;
    for (const u of users) rmSync(failFile(homeOf(u), NAME), { force: true });
    // Two releases of the service and two of the site, so each command has a release to go back to.
    for (const text of ['faults says one', 'faults says two']) {
      expect(await cli('deploy-service', NAME, '--dir', appSaying(work, NAME, text), '--target', 'local', '--fleet')).toExitWith(0);
    }
    for (const text of ['faults site one', 'faults site two']) expect(await cli('deploy-files', '--dir', site(text), '--target', 'local', '--fleet')).toExitWith(0);
  }, 300_000);

  afterAll(async () => {
    for (const u of users ?? []) rmSync(failFile(homeOf(u), NAME), { force: true });
    await cli('remove-service', NAME, '--purge', '--target', 'local', '--fleet');
    await cli('local', 'down', '--fleet');
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  test('rollback --fleet that fails on server 2 (the older release will not start there) puts server 1 back; no request fails', async () => {
    const before = await state();
    writeFileSync(failFile(homeOf(users[1]), NAME), '');
    let run;
    try {
      run = await underLoad('rollback failing on s2', () => cli('rollback', NAME, '--target', 'local', '--fleet'));
    } finally {
      rmSync(failFile(homeOf(users[1]), NAME), { force: true });
    }
    expect(run.r.code).toBe(1);
    expect(run.r.err).toMatch(/deploy failed on s2 .*; s1 \S+ back on the previous release, manifest unchanged/);
    expect(run.tally.failures).toEqual([]);
    await expectAsBefore(before);
  }, 120_000);

  test('deploy-files --fleet that fails on server 2 (its site folder cannot be written) puts server 1 back; no request fails', async () => {
    const before = await state();
    const releases = join(paths(users[1]).www, 'releases');
    const mode = statSync(releases).mode & 0o7777;
    chmodSync(releases, 0o555);
    let run;
    try {
      run = await underLoad('deploy-files failing on s2', () => cli('deploy-files', '--dir', site('faults site never'), '--target', 'local', '--fleet'));
    } finally {
      chmodSync(releases, mode);
    }
    expect(run.r.code).toBe(1);
    expect(run.r.err).toMatch(/deploy failed on s2 .*; s1 \S+ back on the previous release, manifest unchanged/);
    expect(run.tally.failures).toEqual([]);
    await expectAsBefore(before);
  }, 120_000);

  test('Ctrl-C (a real SIGINT to the CLI) as server 2 starts: server 2 stops or is put back, then server 1; exit 130; no request fails', async () => {
    const before = await state();
    const run = await underLoad('deploy-service, Ctrl-C as s2 starts', () => portsideWithCtrlC(/^server 2 of 3: /, 1,
      'deploy-service', NAME, '--dir', appSaying(work, NAME, 'faults says interrupted'), '--target', 'local', '--fleet'));
    console.log(run.r.err.split('\n').filter((l) => /Ctrl-C|^now:|^\[s2 /.test(l)).join('\n'));
    expect(run.r.code).toBe(130);
    expect(run.r.err).toMatch(/^Ctrl-C: stopping the rollout: /m);
    expect(run.r.err).toMatch(/^portside deploy-service: interrupted \(Ctrl-C\): (s2 \S+, )?s1 \S+ back on the previous release, manifest unchanged$/m);
    expect(run.r.err).toMatch(/^now: s1 \S+ put back: as before; s2 \S+ (put back: as before|not switched: its agent put it back); s3 \S+ not started: as before$/m);
    expect(run.r.err).not.toMatch(/null failed/);
    expect(run.tally.failures).toEqual([]);
    await expectAsBefore(before);
  }, 120_000);

  test('a second Ctrl-C only says where each server is: the put-back still runs to the end; exit 130', async () => {
    const before = await state();
    const run = await underLoad('deploy-service, Ctrl-C twice as s2 starts', () => portsideWithCtrlC(/^server 2 of 3: /, 2,
      'deploy-service', NAME, '--dir', appSaying(work, NAME, 'faults says interrupted twice'), '--target', 'local', '--fleet'));
    console.log(run.r.err.split('\n').filter((l) => /Ctrl-C|^now:/.test(l)).join('\n'));
    expect(run.r.code).toBe(130);
    expect(run.r.err).toMatch(/^Ctrl-C again: still (waiting for the servers in progress to stop or finish, then putting back|putting servers back)\. Now: s1 \S+ (switched|being put back); /m);
    expect(run.r.err).not.toMatch(/leaving now/);
    expect(run.r.err).toMatch(/^portside deploy-service: interrupted \(Ctrl-C\): (s2 \S+, )?s1 \S+ back on the previous release, manifest unchanged$/m);
    expect(run.tally.failures).toEqual([]);
    await expectAsBefore(before);
  }, 120_000);

  test('remove-service --fleet that fails on server 2 (its Caddyfile folder cannot be written) installs the service on server 1 again', async () => {
    const before = await state();
    const caddyDir = dirname(paths(users[1]).caddyfile);
    const mode = statSync(caddyDir).mode & 0o7777;
    chmodSync(caddyDir, 0o555);
    let run;
    try {
      run = await underLoad('remove-service failing on s2', () => cli('remove-service', NAME, '--target', 'local', '--fleet'));
    } finally {
      chmodSync(caddyDir, mode);
    }
    expect(run.r.code).toBe(1);
    expect(run.r.err).toMatch(/deploy failed on s2 .*; s1 \S+ back on the previous release, manifest unchanged/);
    // Requests do fail here, by design of a removal: server 1 had no service until it was installed again.
    await expectAsBefore(before);
  }, 120_000);
});

/** The real CLI in its own process; `presses` SIGINTs (50 ms apart) when a stderr line matches `at`. */
function portsideWithCtrlC(at: RegExp, presses: number, ...args: string[]): Promise<{ code: number | null; err: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORTSIDE_HOME: testHome };
  delete env.PORTSIDE_TARGET;
  delete env.INIT_CWD;
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'portside.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let struck = false;
  child.stderr!.on('data', (d) => {
    err += d;
    if (!struck && err.split('\n').some((l) => at.test(l))) {
      struck = true;
      for (let i = 0; i < presses; i++) setTimeout(() => child.kill('SIGINT'), i * 50);
    }
  });
  child.stdout!.resume();
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, err })));
}
