/**
 * Issue #10: a killed fleet server replaced by a new one converges on its own. Against `portside local up
 * --servers 3`: a service is rolled out, server 2 is removed entirely (namespace, processes, user, files:
 * a terminated instance), and `local up --servers 3` makes a new server 2, which boots as an EC2 fleet
 * server does: lib/fleet/portside-converge.sh fetches the manifest and the agent from the store and
 * converges. No deploy command runs after the kill. Load goes through the load balancer the whole time the
 * new server converges; the load balancer's own log says when it took the server in.
 *
 * Then scale-out: `local up --servers 4` adds a server at a new address. The load balancer gets it only once
 * its health answers 200 (a new ALB target is in `initial` and gets no request until it passes a check);
 * Caddy would treat a newly configured upstream as healthy at once. Then `local up --servers 3` takes it
 * out of the load balancer and removes it. Load goes through the load balancer all along.
 */
import { cliProcess, type CliProcessRun } from '../support/cli-process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localFleet } from '../../lib/fleet/fleet-target';
import { ReleaseStore, storeClient } from '../../lib/fleet/release-store';
import type { FleetManifest } from '../../lib/fleet/store-layout';
import { BOOTING_MARKER_FILE, CONVERGED_MARKER_FILE, HEALTH_PATH, HTTP_PORT } from '../../lib/remote/layout';
import { lookupAccount } from '../../lib/targets/local/deploy-user';
import { bootPaths } from '../../lib/targets/local/fleet-boot';
import { registeredServers } from '../../lib/targets/local/fleet-lb';
import { FLEET_DOMAIN, FLEET_HOST_ADDRESS, FLEET_PATHS, fleetServerSpec, FleetServerSpec, LB_ADDRESS } from '../../lib/targets/local/fleet-constants';
import { removeFleetServer } from '../../lib/targets/local/fleet-server';
import { withLock } from '../../lib/targets/local/lock';
import { tcpExchange } from '../../lib/targets/local/probe';
import { livePid, sleep } from '../../lib/targets/local/processes';
import { cli, testHome } from '../support/cli';
import { releaseOn } from '../support/fleet-app';
import { loadProbe, Tally } from '../support/load-probe';
import { localServerUnavailable } from '../support/local-server';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`test/e2e/fleet-replace.test.ts skipped: ${why}`);

const NAME = 'e2e-replace';
const SERVERS = 3;
const work = mkdtempSync(join(tmpdir(), 'portside-fleet-replace-'));
const specs = Array.from({ length: SERVERS }, (_, i) => fleetServerSpec(i + 1));
const s2 = specs[1];

/** The built CLI in its own process: `local up` blocks its event loop, which must not stall the probe here. */
function portside(...args: string[]): Promise<CliProcessRun> {
  return cliProcess(process.env, ...args);
}

/** A service that says which server (deploy user) and which release (its folder's name) answered. */
function appSayingWho(holdDir?: string): string {
  const dir = mkdtempSync(join(work, 'app-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: NAME, version: '1.0.0', main: 'index.js' }));
  // With holdDir: a server whose deploy user has hold-<user> there does not listen until the file is gone.
  const hold = holdDir ? `const held = () => require('fs').existsSync(${JSON.stringify(holdDir)} + '/hold-' + who);
const wait = (then) => (held() ? setTimeout(() => wait(then), 100) : then());
` : 'const wait = (then) => then();\n';
  writeFileSync(join(dir, 'index.js'), `const who = require('os').userInfo().username;
const release = require('path').basename(require('fs').realpathSync(__dirname));
${hold}wait(() => require('http').createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => { n += c.length; });
  req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('replace says ' + who + ' ' + release + ' (' + req.method + ', ' + n + ' bytes)\\n'); });
}).listen(Number(process.argv[2])));
`);
  return dir;
}

/** What a server's /_portside/health answers now (asked from the host, as `local status` does), or 0 without an answer. */
async function healthOf(spec: FleetServerSpec): Promise<number> {
  const reply = await tcpExchange(spec.address, HTTP_PORT, `GET ${HEALTH_PATH} HTTP/1.1\r\nHost: ${spec.address}\r\nConnection: close\r\n\r\n`, 1000, false, FLEET_HOST_ADDRESS);
  const m = /^HTTP\/[\d.]+ (\d{3})/.exec(reply ?? '');
  return m ? Number(m[1]) : 0;
}

/** Ask a server's health every 50 ms until stopped; every answer with the time it arrived. */
function pollHealth(spec: FleetServerSpec): { seen: Array<{ at: number; status: number }>; stop: () => Promise<void> } {
  const seen: Array<{ at: number; status: number }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      seen.push({ status: await healthOf(spec), at: Date.now() });
      await sleep(50);
    }
  })();
  return { seen, stop: async () => { running = false; await loop; } };
}

/** The load balancer's active health checks of one server since byte `from` of its log (time in ms). */
function lbChecks(address: string, from: number): Array<{ at: number; msg: string }> {
  const text = readFileSync(FLEET_PATHS.lbLog).subarray(from).toString('utf8');
  return text.split('\n').filter((l) => l.includes('health_checker.active') && l.includes(`"${address}:${HTTP_PORT}"`))
    .map((l) => JSON.parse(l) as { ts: number; msg: string }).map((e) => ({ at: e.ts * 1000, msg: e.msg }));
}

/** Wait (bounded) for `done`; the error says what was awaited and shows `context()`. */
async function waitFor(what: string, done: () => boolean, limitMs: number, context: () => string = () => ''): Promise<number> {
  const started = Date.now();
  while (!done()) {
    if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms: ${what}\n${context()}`);
    await sleep(50);
  }
  return Date.now() - started;
}

/** When the load balancer's Caddyfile first listed `address` (polled every 50 ms until stopped), and when it last stopped listing it. */
function pollRegistration(address: string): { firstListed: () => number | undefined; lastUnlisted: () => number | undefined; stop: () => Promise<void> } {
  let firstListed: number | undefined;
  let lastUnlisted: number | undefined;
  let running = true;
  const loop = (async () => {
    while (running) {
      const listed = registeredServers().includes(address);
      if (listed && firstListed === undefined) firstListed = Date.now();
      if (!listed && firstListed !== undefined) lastUnlisted ??= Date.now();
      await sleep(50);
    }
  })();
  return { firstListed: () => firstListed, lastUnlisted: () => lastUnlisted, stop: async () => { running = false; await loop; } };
}

/** The load probe over NAME, recording which server answered which release, and when. */
function probeWho(answers: Array<{ at: number; server: string; release: string }>): ReturnType<typeof loadProbe> {
  return loadProbe({
    address: LB_ADDRESS, domain: FLEET_DOMAIN, names: [NAME],
    accept: (_name, method, status, body) => {
      const m = /^replace says (portside-s\d+) (\S+) \((GET|POST), (\d+) bytes\)$/.exec(body.trim());
      if (status !== 200 || !m || m[3] !== method) return false;
      answers.push({ at: Date.now(), server: m[1], release: m[2] });
      return true;
    },
  });
}

/** `local status --fleet --json`'s view of one server. */
async function statusOf(spec: FleetServerSpec): Promise<{ loadBalancer: string; health: { ok: boolean } }> {
  const r = await portside('local', 'status', '--fleet', '--json');
  const servers = (JSON.parse(r.out) as { servers: Array<{ name: string; loadBalancer: string; health: { ok: boolean } }> }).servers;
  return servers.find((s) => s.name === spec.name)!;
}

const bootLog = (spec: FleetServerSpec): string => (existsSync(bootPaths(spec).log) ? readFileSync(bootPaths(spec).log, 'utf8') : '(no boot log)');

describeE2E('a fleet server killed and replaced by a new one converges on its own', () => {
  beforeAll(async () => {
    // From nothing: the store starts empty, so the first boot of every server finds no manifest.
    await cli('local', 'down', '--fleet');
    const up = await portside('local', 'up', '--servers', String(SERVERS));
    expect(up.code).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await cli('local', 'down', '--fleet');
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  test('a server that boots while the store has no manifest runs the boot hook and is healthy at once', async () => {
    for (const spec of specs) {
      expect(await healthOf(spec)).toBe(200);
      expect(bootLog(spec)).toContain('portside-converge: no manifest in s3://portside-fleet-releases yet');
    }
  });

  test('the replacement answers 503 while it converges from the store, gets no request before, then serves the current release', async () => {
    const deployed = await cli('deploy-service', NAME, '--dir', appSayingWho(), '--target', 'local', '--fleet');
    expect(deployed).toExitWith(0);
    const fleet = await localFleet({ ...process.env, PORTSIDE_HOME: testHome });
    const manifest: FleetManifest = (await new ReleaseStore(storeClient(fleet.store), fleet.store.bucket).readManifest()).manifest;
    const release = manifest.services[NAME].releaseId;

    // Kill s2 entirely, then wait until the load balancer's check has failed on it (it is out of the rotation).
    const lbLogAt = statSync(FLEET_PATHS.lbLog).size;
    await withLock(() => removeFleetServer(s2, () => undefined));
    expect(existsSync(`/run/netns/${s2.netns}`)).toBe(false);
    expect(lookupAccount(s2.user)).toBeUndefined();
    await waitFor('the load balancer fails s2\'s health check', () => lbChecks(s2.address, lbLogAt).some((e) => e.msg !== 'host is up'), 10_000);

    const answers: Array<{ at: number; server: string; release: string }> = [];
    const load = probeWho(answers);
    const health = pollHealth(s2);
    const t0 = Date.now();
    let upMs = 0;
    let tally: Tally = { sent: 0, ok: 0, retried: [], failures: [] };
    try {
      const up = await portside('local', 'up', '--servers', String(SERVERS));
      upMs = Date.now() - t0;
      expect(up.err).toMatch(/s2: booting: the store has a manifest; converging to it in the background/);
      expect(up.code).toBe(0);
      // Until its health passes, or its boot ended without (then the log says why).
      const healthy = (): boolean => health.seen.some((h) => h.status === 200);
      await waitFor('s2 converges and its health answers 200', () => healthy() || !livePid(bootPaths(s2).pid), 180_000, () => bootLog(s2));
      await waitFor('s2\'s health answers 200 after its boot', healthy, 2000, () => bootLog(s2));
      await waitFor('the load balancer sends s2 requests', () => answers.some((a) => a.server === s2.user), 20_000);
    } finally {
      await health.stop();
      tally = await load.stop();
    }
    const marker = join(s2.caddyDir, CONVERGED_MARKER_FILE);

    const first503 = health.seen.find((h) => h.status === 503);
    const first200 = health.seen.find((h) => h.status === 200)!;
    const lbUp = lbChecks(s2.address, lbLogAt).filter((e) => e.msg === 'host is up');
    const fromS2 = answers.filter((a) => a.server === s2.user);
    console.log(`replacement: local up --servers ${SERVERS} ${upMs} ms; s2 healthy ${first200.at - t0} ms after it started (503 from ${first503 ? first503.at - t0 : '-'} ms); `
      + `in the load balancer at ${lbUp.length ? Math.round(lbUp[lbUp.length - 1].at - t0) : '-'} ms; load: ${tally.sent} requests, ${tally.failures.length} failed, ${fromS2.length} answered by s2`);
    expect(tally.failures).toEqual([]);
    // Unhealthy while converging, and never again once healthy.
    expect(first503).toBeDefined();
    expect(first503!.at).toBeLessThan(first200.at);
    expect(health.seen.filter((h) => h.at > first200.at).every((h) => h.status === 200)).toBe(true);
    // The load balancer took s2 in once, after its marker was written, and s2 answered nothing before that.
    expect(lbUp).toHaveLength(1);
    expect(lbUp[0].at).toBeGreaterThanOrEqual(statSync(marker).mtimeMs);
    expect(fromS2.every((a) => a.at >= lbUp[0].at)).toBe(true);
    // The current release, installed by the boot hook alone (its log), and the fleet agrees.
    expect(fromS2.every((a) => a.release === release)).toBe(true);
    expect(releaseOn(s2.user, NAME)).toBe(release);
    expect(bootLog(s2)).toMatch(new RegExp(`${NAME}: installing release ${release} from the store`));
    const services = await cli('services', '--target', 'local', '--fleet', '--json');
    expect(services).toExitWith(0);
    expect(JSON.parse(services.out).disagreements).toEqual([]);
  }, 420_000);

  test('scale-out: a server at a new address joins the load balancer only once healthy, then scale-in takes it out cleanly', async () => {
    const s4 = fleetServerSpec(SERVERS + 1);
    const fleet = await localFleet({ ...process.env, PORTSIDE_HOME: testHome });
    const release = (await new ReleaseStore(storeClient(fleet.store), fleet.store.bucket).readManifest()).manifest.services[NAME].releaseId;
    expect(registeredServers()).toEqual(specs.map((s) => s.address));

    const lbLogAt = statSync(FLEET_PATHS.lbLog).size;
    const answers: Array<{ at: number; server: string; release: string }> = [];
    const load = probeWho(answers);
    const health = pollHealth(s4);
    const registration = pollRegistration(s4.address);
    const t0 = Date.now();
    const timings: Record<string, number> = {};
    let tally: Tally = { sent: 0, ok: 0, retried: [], failures: [] };
    let whileConverging: { loadBalancer: string; health: { ok: boolean } } | undefined;
    let statusAt = 0;
    let markerAt = Infinity;
    let secondUpErr = '';
    try {
      const up = await portside('local', 'up', '--servers', String(SERVERS + 1));
      timings.up = Date.now() - t0;
      expect(up.err).toMatch(/s4: booting: the store has a manifest; converging to it in the background/);
      expect(up.err).toMatch(/s4: not in the load balancer until its \/_portside\/health answers 200/);
      expect(up.code).toBe(0);
      whileConverging = await statusOf(s4);
      statusAt = Date.now();
      // A second `local up` while s4 converges: idempotent, it neither boots s4 again nor adds it early.
      const again = await portside('local', 'up', '--servers', String(SERVERS + 1));
      expect(again.code).toBe(0);
      expect(again.err).not.toMatch(/s4: booting/);
      secondUpErr = again.err;
      const healthy = (): boolean => health.seen.some((h) => h.status === 200);
      await waitFor('s4 converges and its health answers 200', () => healthy() || !livePid(bootPaths(s4).pid), 180_000, () => bootLog(s4));
      await waitFor('s4\'s health answers 200 after its boot', healthy, 2000, () => bootLog(s4));
      await waitFor('the load balancer sends s4 requests', () => answers.some((a) => a.server === s4.user), 20_000, () => readFileSync(bootPaths(s4).registrarLog, 'utf8'));
      timings.scaledOut = Date.now() - t0;
      markerAt = statSync(join(s4.caddyDir, CONVERGED_MARKER_FILE)).mtimeMs;
      const four = await cli('services', '--target', 'local', '--fleet', '--json');
      expect(four).toExitWith(0);
      expect(JSON.parse(four.out).disagreements).toEqual([]);
      expect((await statusOf(s4)).loadBalancer).toBe('registered');
      // Scale-in under the same load: s4 leaves the load balancer, then is removed.
      const shrink = await portside('local', 'up', '--servers', String(SERVERS));
      timings.scaledIn = Date.now() - t0;
      expect(shrink.code).toBe(0);
      expect(shrink.err).toMatch(/taking 10\.77\.1\.14 out of the load balancer before removing it/);
      await sleep(1000); // load after the shrink, to see that nothing fails once s4 is gone
    } finally {
      await Promise.all([health.stop(), registration.stop()]);
      tally = await load.stop();
    }
    const first503 = health.seen.find((h) => h.status === 503);
    const first200 = health.seen.find((h) => h.status === 200)!;
    const listedAt = registration.firstListed();
    const fromS4 = answers.filter((a) => a.server === s4.user);
    console.log(`scale-out: local up --servers ${SERVERS + 1} ${timings.up} ms; s4 503 from ${first503 ? first503.at - t0 : '-'} ms, 200 from ${first200.at - t0} ms; `
      + `in the load balancer's Caddyfile at ${listedAt ? listedAt - t0 : '-'} ms, first answer ${fromS4.length ? fromS4[0].at - t0 : '-'} ms; status while converging: ${whileConverging?.loadBalancer}; `
      + `scale-in done at ${timings.scaledIn} ms (out of the Caddyfile at ${(registration.lastUnlisted() ?? t0) - t0} ms); `
      + `load: ${tally.sent} requests, ${tally.failures.length} failed, ${tally.retried.length} resent (keep-alive closed before an answer), ${fromS4.length} answered by s4`);
    if (tally.retried.length) console.log(tally.retried.join('\n'));
    expect(tally.failures).toEqual([]);
    expect(first503).toBeDefined();
    expect(first503!.at).toBeLessThan(first200.at);
    // Listed only after its marker was written (it converged), and no request reached it before it was listed.
    expect(listedAt).toBeDefined();
    expect(listedAt!).toBeGreaterThanOrEqual(markerAt);
    expect(fromS4.length).toBeGreaterThan(0);
    expect(fromS4.every((a) => a.at >= listedAt!)).toBe(true);
    expect(fromS4.every((a) => a.release === release)).toBe(true);
    // The load balancer never saw it fail a check: it had it only once healthy (Caddy logs failed checks, not passed ones).
    expect(lbChecks(s4.address, lbLogAt).filter((e) => e.at <= t0 + timings.scaledOut)).toEqual([]);
    // `local status` said why it was not in the load balancer yet (or, if it was already, it was listed before the status ran).
    if (whileConverging!.loadBalancer === 'registered') expect(listedAt!).toBeLessThan(statusAt);
    else expect(['converging', 'registering']).toContain(whileConverging!.loadBalancer);
    // Who added it: its registrar, or the second `local up` when s4 was healthy by then (then the registrar
    // finds it registered). Either says so, in the same words; exactly one of them added it.
    const registrarLog = readFileSync(bootPaths(s4).registrarLog, 'utf8');
    const addedBy = [registrarLog, secondUpErr].filter((text) => /s4: \/_portside\/health answers 200; registered with the load balancer/.test(text));
    expect(addedBy).toHaveLength(1);
    if (addedBy[0] === secondUpErr) expect(registrarLog).toMatch(/s4: already registered with the load balancer/);
    // Scale-in: out of the load balancer, gone, and the three left agree.
    expect(registration.lastUnlisted()).toBeDefined();
    expect(registeredServers()).toEqual(specs.map((s) => s.address));
    expect(existsSync(`/run/netns/${s4.netns}`)).toBe(false);
    expect(answers.filter((a) => a.at > t0 + timings.scaledIn).every((a) => a.server !== s4.user)).toBe(true);
    const services = await cli('services', '--target', 'local', '--fleet', '--json');
    expect(services).toExitWith(0);
    expect(JSON.parse(services.out).disagreements).toEqual([]);
  }, 420_000);
  test('a deploy while a server boots: the rollout leaves it to its boot, which ends on the new release (no further command)', async () => {
    // Release A holds its start on s2 while hold-portside-s2 exists: s2's boot converge (installing A) runs
    // for as long as the test says, so the deploy of B lands while it converges.
    // Not under `work` (0700): the deploy user must see the file.
    const holdDir = mkdtempSync(join(tmpdir(), 'portside-hold-'));
    chmodSync(holdDir, 0o755);
    const hold = join(holdDir, `hold-${s2.user}`);
    expect(await cli('deploy-service', NAME, '--dir', appSayingWho(holdDir), '--target', 'local', '--fleet')).toExitWith(0);
    const fleet = await localFleet({ ...process.env, PORTSIDE_HOME: testHome });
    const store = new ReleaseStore(storeClient(fleet.store), fleet.store.bucket);
    const releaseA = (await store.readManifest()).manifest.services[NAME].releaseId;
    writeFileSync(hold, '');
    const lbLogAt = statSync(FLEET_PATHS.lbLog).size;
    await withLock(() => removeFleetServer(s2, () => undefined));
    await waitFor('the load balancer fails s2\'s health check', () => lbChecks(s2.address, lbLogAt).some((e) => e.msg !== 'host is up'), 10_000);

    const answers: Array<{ at: number; server: string; release: string }> = [];
    const load = probeWho(answers);
    const health = pollHealth(s2);
    let tally: Tally = { sent: 0, ok: 0, retried: [], failures: [] };
    let deployed: { code: number | null; out: string; err: string } | undefined;
    let releaseB = '';
    try {
      expect((await portside('local', 'up', '--servers', String(SERVERS))).code).toBe(0);
      await waitFor('s2\'s boot converge installs release A', () => bootLog(s2).includes(`${NAME}: installing release ${releaseA} from the store`), 60_000, () => bootLog(s2));
      expect(existsSync(join(s2.caddyDir, BOOTING_MARKER_FILE))).toBe(true);
      deployed = await cli('deploy-service', NAME, '--dir', appSayingWho(), '--target', 'local', '--fleet');
      releaseB = (await store.readManifest()).manifest.services[NAME].releaseId;
      rmSync(hold, { force: true });
      const healthy = (): boolean => health.seen.some((h) => h.status === 200);
      await waitFor('s2 converges and its health answers 200', () => healthy() || !livePid(bootPaths(s2).pid), 120_000, () => bootLog(s2));
      await waitFor('s2\'s health answers 200 after its boot', healthy, 2000, () => bootLog(s2));
      await waitFor('the load balancer sends s2 requests', () => answers.some((a) => a.server === s2.user), 20_000);
    } finally {
      rmSync(holdDir, { recursive: true, force: true });
      await health.stop();
      tally = await load.stop();
    }
    const fromS2 = answers.filter((a) => a.server === s2.user);
    console.log(`deploy while booting: deploy exit ${deployed!.code}; s2 ${releaseOn(s2.user, NAME)} (A ${releaseA}, B ${releaseB}); load: ${tally.sent} requests, ${tally.failures.length} failed, ${fromS2.length} answered by s2`);
    expect(deployed).toExitWith(0);
    expect(deployed!.err).toContain(`${s2.name} (${s2.address}) is booting: it converges to the new release itself`);
    expect(deployed!.err).not.toMatch(/deploy failed on|back on the previous release/);
    expect(releaseB).not.toBe(releaseA);
    // s2 finished A, read the manifest again, found B and converged to it: healthy on B, with no command after the deploy.
    expect(bootLog(s2)).toMatch(/the manifest moved while this server converged/);
    expect(releaseOn(s2.user, NAME)).toBe(releaseB);
    expect(fromS2.length).toBeGreaterThan(0);
    expect(fromS2.every((a) => a.release === releaseB)).toBe(true);
    expect(existsSync(join(s2.caddyDir, BOOTING_MARKER_FILE))).toBe(false);
    expect(tally.failures).toEqual([]);
    const services = await cli('services', '--target', 'local', '--fleet', '--json');
    expect(services).toExitWith(0);
    expect(JSON.parse(services.out).disagreements).toEqual([]);
  }, 420_000);
});
