/**
 * deploy-service against the local fleet, end to end: three stand-in servers (real sshd, Caddy, pm2),
 * the load balancer (Caddy, active health checks on /_portside/health) and the S3-compatible store,
 * all from `portside local up --servers 3`. Load goes through the load balancer the whole time it
 * matters; the manifest and the release objects are read back from the store with @aws-sdk/client-s3.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { deployToFleet } from '../../lib/fleet/fleet-deploy';
import { Fleet, localFleet } from '../../lib/fleet/fleet-target';
import { ReleaseStore, storeClient } from '../../lib/fleet/release-store';
import type { FleetManifest } from '../../lib/fleet/store-layout';
import { currentLink, REGISTRY_FILE, RELEASE_ENV_FILE } from '../../lib/remote/layout';
import { readLocalFleet } from '../../lib/targets/local/fleet-description';
import { cli, testHome } from '../support/cli';
import { appSaying as appSayingIn, homeOf, loadThroughLb as loadThroughFleetLb, releaseOn as releaseOfUser } from '../support/fleet-app';
import { localServerUnavailable } from '../support/local-server';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e fleet tests skipped: ${why}`);

const NAME = 'e2e-fleet';
const SERVERS = 3;
const work = mkdtempSync(join(tmpdir(), 'portside-fleet-e2e-'));
const SECRET = `FLEET_SECRET=never-in-the-store-${process.pid}`;

const appSaying = (text: string): string => appSayingIn(work, NAME, text);
const deployFleet = (...args: string[]) => cli('deploy-service', NAME, ...args, '--target', 'local', '--fleet');
const releaseOn = (user: string): string | null => releaseOfUser(user, NAME);
const loadThroughLb = (address: string, domain: string) => loadThroughFleetLb(address, domain, NAME);

/** One GET of the site's root through the load balancer (HTTPS, the fleet's apex domain). */
function getThroughLb(address: string, domain: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get({ host: address, port: 443, path: '/', servername: domain, headers: { host: domain }, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Every object in the store, with its bytes (the bucket is small: a few releases). */
async function storeObjects(fleet: Fleet): Promise<Array<{ key: string; body: Buffer }>> {
  const s3 = storeClient(fleet.store);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: fleet.store.bucket }));
  return Promise.all((listed.Contents ?? []).map(async (o) => {
    const r = await s3.send(new GetObjectCommand({ Bucket: fleet.store.bucket, Key: o.Key! }));
    return { key: o.Key!, body: Buffer.from(await r.Body!.transformToByteArray()) };
  }));
}

const readManifest = async (fleet: Fleet): Promise<FleetManifest> => (await new ReleaseStore(storeClient(fleet.store), fleet.store.bucket).readManifest()).manifest;

describeE2E(`deploy-service against a local fleet of ${SERVERS}`, () => {
  let fleet: Fleet;
  let users: string[];
  const env = { ...process.env, PORTSIDE_HOME: testHome };

  beforeAll(async () => {
    const up = await cli('local', 'up', '--servers', String(SERVERS));
    expect(up).toExitWith(0);
    fleet = await localFleet(env);
    users = readLocalFleet().servers.map((s) => s.user);
    for (const u of users) rmSync(join(homeOf(u), `.e2e-fail-${NAME}`), { force: true });
  }, 300_000);

  afterAll(async () => {
    for (const u of users ?? []) rmSync(join(homeOf(u), `.e2e-fail-${NAME}`), { force: true });
    // The fleet goes down with the suite (the contract): a fleet left up would take `--target local` from
    // no one (the single server keeps it while up), but it holds ~10 processes and a bridge.
    await cli('local', 'down', '--fleet');
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  test('a rolling deploy through the load balancer under GET+POST load fails no request; the manifest moves last', async () => {
    const first = await deployFleet('--dir', appSaying('fleet says one'));
    expect(first).toExitWith(0);
    const before = await readManifest(fleet);
    const load = loadThroughLb(fleet.address, readLocalFleet().domain);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    const r = await deployFleet('--dir', appSaying('fleet says two'));
    const rolloutMs = Date.now() - t0;
    await new Promise((r2) => setTimeout(r2, 1000));
    const tally = await load.stop();
    console.log(`rollout over ${SERVERS} servers: ${rolloutMs} ms; load: ${tally.sent} requests (${(tally.sent / ((rolloutMs + 2000) / 1000)).toFixed(0)}/s), ${tally.failures.length} failed (${tally.failures.join(', ')}); ${tally.retried.length} sent again after a reused connection closed before any answer (${tally.retried.join(', ')})`);
    expect(r).toExitWith(0);
    expect(tally.failures).toEqual([]);
    expect(tally.sent / ((rolloutMs + 2000) / 1000)).toBeGreaterThanOrEqual(50);
    const after = await readManifest(fleet);
    expect(after.services[NAME].releaseId).not.toBe(before.services[NAME].releaseId);
    // Every server runs the manifest's release (one id on all of them), and services says the fleet agrees.
    expect(users.map(releaseOn)).toEqual(users.map(() => after.services[NAME].releaseId));
    const services = await cli('services', '--target', 'local', '--fleet');
    expect(services).toExitWith(0);
    expect(services.out).toContain('the fleet agrees');
  }, 240_000);

  test('the same files again: the same archive and release id, nothing uploaded, nothing restarted on any server', async () => {
    const dir = appSaying('fleet says the same');
    expect(await deployFleet('--dir', dir)).toExitWith(0);
    const before = await readManifest(fleet);
    const again = await deployFleet('--dir', dir);
    expect(again).toExitWith(0);
    expect(again.err).toMatch(/already in the store/);
    expect(again.out.match(/already on it/g)).toHaveLength(SERVERS);
    expect((await readManifest(fleet)).services[NAME]).toEqual(before.services[NAME]);
  }, 240_000);

  test('--parallel 3 deploys to every server at once and still ends with one release everywhere', async () => {
    const r = await deployFleet('--dir', appSaying('fleet says parallel'), '--parallel', String(SERVERS));
    expect(r).toExitWith(0);
    expect(r.err).toMatch(new RegExp(`servers 1–${SERVERS} of ${SERVERS}: `));
    const m = await readManifest(fleet);
    expect(users.map(releaseOn)).toEqual(users.map(() => m.services[NAME].releaseId));
  }, 240_000);

  test('measured: a rollout over 1 server, over 3 one at a time, and over 3 with --parallel 3 (the bench goal: ≤ 1.6× one server)', async () => {
    const time = async (servers: Fleet['servers'], parallel: number, text: string): Promise<number> => {
      const dir = appSaying(text);
      // The fleet as these servers alone (no catch-up of the others, which would be timed too).
      const o = await deployToFleet({ ...fleet, servers, discover: async () => servers }, { name: NAME, dir, probeTimeoutMs: 30_000, parallel, log: () => undefined });
      return o.totalMs;
    };
    await time(fleet.servers, SERVERS, 'fleet says warm'); // every server has the service: each timing is a redeploy
    const one = await time(fleet.servers.slice(0, 1), 1, 'fleet says timed one');
    const sequential = await time(fleet.servers, 1, 'fleet says timed three');
    const parallel = await time(fleet.servers, SERVERS, 'fleet says timed parallel');
    console.log(`rollout: 1 server ${one} ms; ${SERVERS} one at a time ${sequential} ms; ${SERVERS} with --parallel ${SERVERS} ${parallel} ms (${(parallel / one).toFixed(2)}× one server)`);
    expect(Math.min(one, sequential, parallel)).toBeGreaterThan(0);
  }, 240_000);

  test('a failure on server 2 puts server 1 back, never touches server 3, and leaves the manifest as it was', async () => {
    const before = await readManifest(fleet);
    const releasesBefore = users.map(releaseOn);
    writeFileSync(join(homeOf(users[1]), `.e2e-fail-${NAME}`), '');
    try {
      const r = await deployFleet('--dir', appSaying('fleet says broken on s2'));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/deploy failed on s2 .*s1 .*back on the previous release, manifest unchanged/);
    } finally {
      rmSync(join(homeOf(users[1]), `.e2e-fail-${NAME}`), { force: true });
    }
    expect(users.map(releaseOn)).toEqual(releasesBefore);
    expect(await readManifest(fleet)).toEqual(before);
  }, 240_000);

  test('a server that joins during a rollout is caught up from the store by converge, and reports healthy', async () => {
    // The rollout sees servers 1 and 2; server 3 "boots" meanwhile: the catch-up pass finds it afterwards.
    const lateJoiner = fleet.servers[2];
    const partial: Fleet = { ...fleet, servers: fleet.servers.slice(0, 2) };
    const lines: string[] = [];
    const o = await deployToFleet(partial, { name: NAME, dir: appSaying('fleet says caught up'), probeTimeoutMs: 30_000, log: (l) => lines.push(l) });
    expect(o.caughtUp).toEqual([lateJoiner.label]);
    const m = await readManifest(fleet);
    expect(releaseOn(users[2])).toBe(m.services[NAME].releaseId);
    expect(lines.join('\n')).toMatch(/installing release .* from the store/);
    const services = await cli('services', '--target', 'local', '--fleet', '--json');
    expect(services).toExitWith(0);
    expect(JSON.parse(services.out).servers.every((s: { converged: boolean }) => s.converged)).toBe(true);
  }, 240_000);

  test('an env file goes to each server (0600) and never into the store or the output', async () => {
    const envFile = join(work, 'fleet.env');
    writeFileSync(envFile, `${SECRET}\n`);
    const r = await deployFleet('--dir', appSaying('fleet says with secrets'), '--service-env', envFile);
    expect(r).toExitWith(0);
    expect(`${r.out}\n${r.err}`).not.toContain(SECRET);
    for (const u of users) {
      const file = join(homeOf(u), currentLink(NAME), RELEASE_ENV_FILE);
      expect(readFileSync(file, 'utf8')).toContain(SECRET);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    const objects = await storeObjects(fleet);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) {
      expect(o.body.toString('latin1')).not.toContain(SECRET);
      if (o.key.endsWith('.tar.gz')) expect(gunzipSync(o.body).toString('latin1')).not.toContain(SECRET);
    }
  }, 240_000);

  test('rollback --fleet moves every server back to the release before, and the manifest with them', async () => {
    const before = await readManifest(fleet);
    const r = await cli('rollback', NAME, '--target', 'local', '--fleet');
    expect(r).toExitWith(0);
    const after = await readManifest(fleet);
    expect(after.services[NAME].releaseId).not.toBe(before.services[NAME].releaseId);
    expect(r.out).toContain(`to ${after.services[NAME].releaseId} on ${SERVERS} servers`);
    expect(users.map(releaseOn)).toEqual(users.map(() => after.services[NAME].releaseId));
  }, 240_000);

  test('deploy-files --fleet publishes the site on every server under one release id, served through the load balancer', async () => {
    const site = mkdtempSync(join(work, 'site-'));
    writeFileSync(join(site, 'index.html'), `<h1>fleet site ${process.pid}</h1>\n`);
    const r = await cli('deploy-files', '--dir', site, '--target', 'local', '--fleet');
    expect(r).toExitWith(0);
    const m = await readManifest(fleet);
    expect(m.static?.releaseId).toMatch(/^[0-9]{8}T/);
    // Each server's site link (its registry says where its site lives) points at the one release id.
    for (const u of users) {
      const www = (JSON.parse(readFileSync(join(homeOf(u), REGISTRY_FILE), 'utf8')) as { paths: { www: string } }).paths.www;
      expect(execFileSync('readlink', [join(www, 'current')], { encoding: 'utf8' }).trim()).toBe(`releases/${m.static!.releaseId}`);
    }
    const page = await getThroughLb(fleet.address, readLocalFleet().domain);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`fleet site ${process.pid}`);
  }, 240_000);

  test('remove-service --fleet takes the service off every server, then out of the manifest', async () => {
    const r = await cli('remove-service', NAME, '--target', 'local', '--fleet');
    expect(r).toExitWith(0);
    expect((await readManifest(fleet)).services[NAME]).toBeUndefined();
    const services = await cli('services', '--target', 'local', '--fleet', '--json');
    const view = JSON.parse(services.out) as { servers: Array<{ services: Array<{ name: string; status: string }> }> };
    for (const s of view.servers) expect(s.services.find((x) => x.name === NAME)?.status ?? 'unregistered').toBe('unregistered');
  }, 240_000);
});
