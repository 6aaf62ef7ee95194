/**
 * The local fleet (issue #10), end to end with its real parts: 3 stand-in servers (network namespaces,
 * OpenSSH, Caddy 2.6.2, pm2), the load balancer (Caddy with active health checks) and the S3-compatible
 * store, driven through the built CLI as a user types it. The fleet uses its own addresses, users and
 * state dir, so the shared single stand-in keeps running; the suite takes its fleet down at the end (and
 * checks that nothing is left), so the single-server suites that follow see no fleet.
 */
import { cliProcess, type CliProcessRun } from '../support/cli-process';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client } from 'ssh2';
import { CONVERGED_MARKER_FILE, HEALTH_PATH, HTTP_PORT, REGISTRY_FILE, REGISTRY_HISTORY_DIR } from '../../lib/remote/layout';
import { fingerprintOf } from '../../lib/ssh/fingerprint';
import { LocalFleet, LocalFleetServer, localFleetDown, s3Settings } from '../../lib/targets/local';
import { FLEET_DIR, FLEET_JSON, fleetServerSpec } from '../../lib/targets/local/fleet-constants';
import { fleetServerRegistry } from '../../lib/targets/local/fleet-server';
import { isAlive } from '../../lib/targets/local/processes';
import { lookupAccount } from '../../lib/targets/local/deploy-user';
import { asUserInNetns } from '../../lib/targets/local/exec';
import { sessionPath } from '../../lib/targets/local/sshd';
import { localServerUnavailable } from '../support/local-server';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`test/e2e/local-fleet.test.ts skipped: ${why}`);

const SERVERS = 3;

type Run = CliProcessRun;

/** The built CLI in its own process, as a user runs it (dist/ is built before e2e runs). */
function portside(...args: string[]): Promise<Run> {
  return portsideWith(process.env, ...args);
}

/** The same with its own environment (e.g. a PORTSIDE_HOME, as a user's shell may export). */
function portsideWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return cliProcess(env, ...args);
}

/** `whoami` over a fresh ssh2 connection that accepts only `fingerprint` as the host key. */
function sshWhoami(server: LocalFleetServer, fingerprint: string): Promise<string> {
  return sshRun(server, fingerprint, 'whoami').then((r) => r.out.trim());
}

/** One command over a fresh ssh2 connection that accepts only `fingerprint` as the host key. */
function sshRun(server: LocalFleetServer, fingerprint: string, command: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .on('ready', () => client.exec(command, (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d));
        stream.stderr.on('data', (d: Buffer) => (out += d));
        stream.on('close', (code: number | null) => {
          client.end();
          resolve({ code, out });
        });
      }))
      .on('error', reject)
      .connect({
        host: server.address, port: server.sshPort, username: server.user, privateKey: readFileSync(server.keyPath),
        readyTimeout: 10_000, hostVerifier: (key: Buffer) => fingerprintOf(key) === fingerprint,
      });
  });
}

/** GET a path through the load balancer over HTTPS, verified with the fleet's CA; a new connection each time. */
function viaLb(fleet: LocalFleet, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: fleet.loadBalancer.address, port: fleet.loadBalancer.httpsPort, path, servername: fleet.domain,
      headers: { Host: fleet.domain }, ca: readFileSync(fleet.caCertPath), agent: false, timeout: 5000,
    }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Which servers answer `n` requests in a row (each server serves who.txt with its own name). */
async function answers(fleet: LocalFleet, n: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push((await viaLb(fleet, '/who.txt')).body);
  return names;
}

/** Poll until `done(answers)` holds for a round of 2 × SERVERS requests; resolves to the ms it took. */
async function until(fleet: LocalFleet, done: (names: string[]) => boolean, limitMs: number): Promise<number> {
  const started = Date.now();
  while (!done(await answers(fleet, 2 * SERVERS))) {
    if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
  }
  return Date.now() - started;
}

const markerOf = (name: string): string => join(fleetServerSpec(Number(name.slice(1))).caddyDir, CONVERGED_MARKER_FILE);

describeE2E('local fleet: portside local up --servers 3', () => {
  let fleet: LocalFleet;
  let upMs = 0;

  beforeAll(async () => {
    // From nothing, so the run measures a cold fleet and proves the set-up from scratch.
    await localFleetDown({ log: () => undefined });
    const started = Date.now();
    const r = await portside('local', 'up', '--servers', String(SERVERS), '--json');
    upMs = Date.now() - started;
    expect(r).toExitWith(0);
    fleet = JSON.parse(r.out) as LocalFleet;
  }, 180_000);

  afterAll(async () => {
    // A failed test must not leave a fleet for the single-server suites (they share 10.77.x's host).
    if (existsSync(FLEET_JSON) || existsSync(FLEET_DIR)) await localFleetDown({ log: () => undefined });
  }, 120_000);

  test('--json prints the contract\'s fields, and fleet.json holds the same', () => {
    process.stderr.write(`[local-fleet] up --servers ${SERVERS} from nothing: ${upMs} ms\n`);
    expect(fleet).toMatchObject({
      domain: 'fleet.portside.test',
      loadBalancer: { address: '10.77.1.2', healthPath: HEALTH_PATH },
      store: { endpoint: 'http://10.77.1.3:4566', bucket: 'portside-fleet-releases', region: 'us-east-1' },
    });
    expect(fleet.servers.map((s) => s.address)).toEqual(['10.77.1.11', '10.77.1.12', '10.77.1.13']);
    expect(existsSync(fleet.caCertPath)).toBe(true);
    expect(JSON.parse(readFileSync(FLEET_JSON, 'utf8'))).toEqual(fleet);
  });

  test('each server takes an SSH login as its own user, with its own pinned host key and no other', async () => {
    for (const server of fleet.servers) {
      expect(await sshWhoami(server, server.hostKeyFingerprint)).toBe(server.user);
      // Allowed install scripts run as the build user: each server's deploy user may, through its own rule.
      expect(await sshRun(server, server.hostKeyFingerprint, 'sudo -n -u portside-build true')).toEqual({ code: 0, out: '' });
    }
    expect(new Set(fleet.servers.map((s) => s.hostKeyFingerprint)).size).toBe(SERVERS);
    // Verified, not accepted blindly: server 2's key is refused where server 1's is expected.
    await expect(sshWhoami(fleet.servers[1], fleet.servers[0].hostKeyFingerprint)).rejects.toThrow(/verif/i);
  }, 60_000);

  test('the load balancer serves https with its own CA and takes the servers in turn', async () => {
    for (const s of fleet.servers) writeFileSync(join(fleetServerSpec(Number(s.name.slice(1))).www, 'current', 'who.txt'), `${s.name}\n`);
    const names = await answers(fleet, 3 * SERVERS);
    // Round robin: every window of SERVERS answers holds each server once.
    for (let i = 0; i + SERVERS <= names.length; i += SERVERS) expect(new Set(names.slice(i, i + SERVERS))).toEqual(new Set(['s1', 's2', 's3']));
  }, 60_000);

  test('a server whose health answers 503 leaves the rotation within the check interval, and comes back', async () => {
    const interval = fleet.loadBalancer.healthIntervalMs;
    const marker = markerOf('s2');
    const saved = readFileSync(marker);
    rmSync(marker);
    try {
      const health = await fetchHealth(fleet.servers[1]);
      expect(health).toBe(503);
      const outMs = await until(fleet, (names) => !names.includes('s2'), 10 * interval);
      process.stderr.write(`[local-fleet] s2 out of rotation after ${outMs} ms (interval ${interval} ms)\n`);
      // One check interval, plus the check's own timeout and a round of requests.
      expect(outMs).toBeLessThanOrEqual(2 * interval + 500);
      expect(await answers(fleet, 4 * SERVERS)).not.toContain('s2');
    } finally {
      writeFileSync(marker, saved);
    }
    expect(await fetchHealth(fleet.servers[1])).toBe(200);
    const backMs = await until(fleet, (names) => names.includes('s2'), 10 * interval);
    process.stderr.write(`[local-fleet] s2 back in rotation after ${backMs} ms\n`);
    expect(backMs).toBeLessThanOrEqual(2 * interval + 500);
  }, 60_000);

  test('the store takes PutObject, GetObject and ListObjectsV2 through @aws-sdk/client-s3 with its default checksums', async () => {
    const s3 = new S3Client(s3Settings(fleet.store));
    const sent: Record<string, string>[] = [];
    s3.middlewareStack.add((next) => async (args) => {
      sent.push({ ...(args.request as { headers: Record<string, string> }).headers });
      return next(args);
    }, { step: 'finalizeRequest', name: 'recordHeaders' });
    try {
      expect(await s3.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
      const bytes = Buffer.alloc(200_000, 7);
      bytes.write('portside');
      const prefix = `e2e-${process.pid}/`;
      await s3.send(new PutObjectCommand({ Bucket: fleet.store.bucket, Key: `${prefix}buffer.bin`, Body: bytes }));
      // A stream body is sent aws-chunked with a CRC32 trailer: what a store that does not decode it stores wrongly.
      await s3.send(new PutObjectCommand({
        Bucket: fleet.store.bucket, Key: `${prefix}stream.bin`, ContentLength: bytes.length,
        Body: Readable.from([bytes.subarray(0, 65_536), bytes.subarray(65_536)]),
      }));
      expect(sent.some((h) => h['x-amz-checksum-crc32'])).toBe(true);
      expect(sent.some((h) => /aws-chunked/.test(h['content-encoding'] ?? '') && h['x-amz-trailer'] === 'x-amz-checksum-crc32')).toBe(true);
      for (const key of ['buffer.bin', 'stream.bin']) {
        const got = await s3.send(new GetObjectCommand({ Bucket: fleet.store.bucket, Key: `${prefix}${key}` }));
        expect(Buffer.from(await got.Body!.transformToByteArray()).equals(bytes)).toBe(true);
      }
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: fleet.store.bucket, Prefix: prefix }));
      expect(listed.Contents?.map((c) => [c.Key, c.Size])).toEqual([[`${prefix}buffer.bin`, bytes.length], [`${prefix}stream.bin`, bytes.length]]);
    } finally {
      s3.destroy();
    }
  }, 60_000);

  test('up again changes nothing and is quick; status reports each part', async () => {
    const started = Date.now();
    const again = await portside('local', 'up', '--servers', String(SERVERS), '--json');
    const againMs = Date.now() - started;
    expect(again).toExitWith(0);
    expect(JSON.parse(again.out)).toEqual(fleet);
    process.stderr.write(`[local-fleet] up again: ${againMs} ms\n`);
    expect(againMs).toBeLessThan(5000);

    const r = await portside('local', 'status', '--fleet', '--json');
    expect(r).toExitWith(0);
    const status = JSON.parse(r.out);
    expect(status.state).toBe('up');
    for (const part of ['bridge', 'proxy', 'store', 'loadBalancer']) expect(status.parts[part]).toMatchObject({ ok: true });
    expect(status.servers.map((s: { name: string }) => s.name)).toEqual(['s1', 's2', 's3']);
    for (const s of status.servers) {
      for (const part of ['netns', 'sshd', 'login', 'caddy']) expect(s.parts[part]).toMatchObject({ ok: true });
      expect(s.health).toMatchObject({ ok: true, detail: `${HEALTH_PATH}: 200 OK` });
    }
  }, 60_000);

  test('a server reaches the npm registry through the fleet\'s proxy and nothing else, also after a resize', async () => {
    // Growing and shrinking adds and removes bridge ports: the servers must still reach the host's proxy at once.
    expect(await portside('local', 'up', '--servers', String(SERVERS + 1))).toExitWith(0);
    expect(await portside('local', 'up', '--servers', String(SERVERS))).toExitWith(0);
    const s1 = fleet.servers[0];
    const account = lookupAccount(s1.user)!;
    const path = sessionPath(fleetServerSpec(1).sshdConfig)!;
    // As a deploy's SSH session runs it: the deploy user, its home and npmrc, the PATH sshd gives.
    const asUser = (argv: string[]) => spawnSync(asUserInNetns(account, path, argv, s1.netns)[0], asUserInNetns(account, path, argv, s1.netns).slice(1), { encoding: 'utf8', timeout: 30_000 });
    const npm = asUser(['npm', 'view', 'is-number', 'version']);
    expect({ code: npm.status, err: npm.status === 0 ? '' : npm.stderr }).toEqual({ code: 0, err: '' });
    expect(npm.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    // The proxy answers the CONNECT itself (403) and never opens a connection to example.com.
    const refused = asUser(['curl', '-s', '-o', '/dev/null', '-w', '%{http_connect}', '-x', fleet.registryProxy, 'https://example.com/']);
    expect(refused.stdout).toBe('403');
    expect(spawnSync('ip', ['-n', s1.netns, 'route'], { encoding: 'utf8' }).stdout).not.toMatch(/^default/m);
  }, 90_000);

  test('up --servers 4 adds a server to the rotation, --servers 3 removes it completely', async () => {
    const grown = await portside('local', 'up', '--servers', '4', '--json');
    expect(grown).toExitWith(0);
    const four = JSON.parse(grown.out) as LocalFleet;
    expect(four.servers.slice(0, SERVERS)).toEqual(fleet.servers);
    writeFileSync(join(fleetServerSpec(4).www, 'current', 'who.txt'), 's4\n');
    // Like an ALB target, a new server takes requests once it has passed a health check (within an interval or two).
    const joinMs = await until(four, (names) => names.includes('s4'), 10 * four.loadBalancer.healthIntervalMs);
    process.stderr.write(`[local-fleet] s4 in rotation ${joinMs} ms after up --servers 4 returned\n`);
    expect(new Set(await answers(four, 8))).toEqual(new Set(['s1', 's2', 's3', 's4']));

    const shrunk = await portside('local', 'up', '--servers', String(SERVERS), '--json');
    expect(shrunk).toExitWith(0);
    expect(JSON.parse(shrunk.out)).toEqual(fleet);
    expect(existsSync('/run/netns/portside-s4')).toBe(false);
    expect(existsSync(fleetServerSpec(4).dir)).toBe(false);
    expect(readFileSync('/etc/passwd', 'utf8')).not.toMatch(/^portside-s4:/m);
    expect(new Set(await answers(fleet, 2 * SERVERS))).toEqual(new Set(['s1', 's2', 's3']));
  }, 90_000);

  test('a server whose Caddy and sshd died is reported down, and up repairs it with the same host key', async () => {
    const s2 = fleet.servers[1];
    for (const pid of pidsIn(s2.netns)) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const broken = await portside('local', 'status', '--fleet', '--json');
    expect(broken).toExitWith(1);
    const report = JSON.parse(broken.out);
    expect(report.state).toBe('degraded');
    const parts = report.servers[1].parts;
    expect([parts.sshd.ok, parts.caddy.ok]).toEqual([false, false]);

    const r = await portside('local', 'up', '--servers', String(SERVERS), '--json');
    expect(r).toExitWith(0);
    expect(JSON.parse(r.out)).toEqual(fleet);
    expect(await sshWhoami(s2, s2.hostKeyFingerprint)).toBe(s2.user);
    expect(await portside('local', 'status', '--fleet')).toExitWith(0);
  }, 90_000);

  test('down --fleet removes every part of the fleet and leaves the single server running', async () => {
    const namespaces = ['portside-lb', 'portside-store', ...fleet.servers.map((s) => s.netns)];
    const running = namespaces.flatMap(pidsIn);
    expect(running.length).toBeGreaterThanOrEqual(2 + 2 * SERVERS); // at least a Caddy each, the store, an sshd each
    const r = await portside('local', 'down', '--fleet');
    expect(r).toExitWith(0);
    const netns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
    expect(netns.filter((n) => /^portside-(s\d+|lb|store)$/.test(n))).toEqual([]);
    expect(existsSync('/sys/class/net/psfleet0')).toBe(false);
    expect(readdirSync('/sys/class/net').filter((i) => i.startsWith('pf-'))).toEqual([]);
    expect(readFileSync('/etc/passwd', 'utf8')).not.toMatch(/^portside-s\d+:/m);
    expect(readdirSync('/etc/sudoers.d').filter((f) => f.startsWith('portside-fleet-'))).toEqual([]);
    expect(existsSync(FLEET_DIR)).toBe(false);
    expect(existsSync(FLEET_JSON)).toBe(false);
    expect(processesNaming(FLEET_DIR)).toEqual([]);
    // isAlive: a zombie waiting for the machine's init to reap it has stopped all the same.
    expect(running.filter(isAlive)).toEqual([]);
    const single = await portside('local', 'status', '--json');
    expect(single).toExitWith(0);
    expect(JSON.parse(single.out)).not.toHaveProperty('fleet');
  }, 120_000);

  test('down --fleet then up --servers 2: each server has its own registry and a deploy to s2 works', async () => {
    // The CLI's own state dir in PORTSIDE_HOME, as a user's shell may export it: it once reached bootstrap.sh,
    // which took it for the deploy user's home, so the servers got no registry; the agent then rebuilt s2's
    // from the first Caddy on the host (s1's) and the deploy failed with EACCES on s1's folder.
    const cliHome = mkdtempSync(join(tmpdir(), 'portside-fleet-cli-home-'));
    const env = { ...process.env, PORTSIDE_HOME: cliHome };
    const up = await portsideWith(env, 'local', 'up', '--servers', '2', '--json');
    expect(up).toExitWith(0);
    const two = JSON.parse(up.out) as LocalFleet;
    for (const server of two.servers) {
      const spec = fleetServerSpec(Number(server.name.slice(1)));
      const home = lookupAccount(spec.user)!.home;
      expect(JSON.parse(readFileSync(join(home, REGISTRY_FILE), 'utf8'))).toEqual(fleetServerRegistry(spec));
    }
    expect(existsSync(join(cliHome, REGISTRY_FILE))).toBe(false);
    const app = mkdtempSync(join(tmpdir(), 'portside-fleet-app-'));
    const deploySaying = (text: string) => {
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fleet-rebuild', version: '1.0.0', main: 'index.js' }));
      writeFileSync(join(app, 'index.js'), `require("http").createServer((q, r) => r.end(${JSON.stringify(text + '\n')})).listen(Number(process.argv[2]));\n`);
      return portsideWith(env, 'deploy-service', 'fleet-rebuild', '--dir', app, '--target', 'local', '--fleet');
    };
    expect(await deploySaying('fleet-rebuild one')).toExitWith(0);
    // s2 loses its registry: the agent rebuilds it from s2's own Caddy, not from s1's (the first on the host).
    const s2 = fleetServerSpec(2);
    // Its saved versions too, or the rebuild would start from them and never ask which Caddy runs.
    for (const f of [REGISTRY_FILE, REGISTRY_HISTORY_DIR]) rmSync(join(lookupAccount(s2.user)!.home, f), { recursive: true, force: true });
    expect(await deploySaying('fleet-rebuild here')).toExitWith(0);
    const rebuilt = JSON.parse(readFileSync(join(lookupAccount(s2.user)!.home, REGISTRY_FILE), 'utf8'));
    expect(rebuilt.paths).toEqual({ www: s2.www, caddyfile: s2.caddyfile });
    expect(rebuilt.loadBalancer).toEqual(fleetServerRegistry(s2).loadBalancer);
    const { request } = await import('node:http');
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: s2.address, port: HTTP_PORT, path: '/', headers: { Host: `fleet-rebuild.${two.domain}` }, agent: false, timeout: 5000 }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      }).on('error', reject).end();
    });
    expect(body).toBe('200 fleet-rebuild here\n');
    rmSync(cliHome, { recursive: true, force: true });
    rmSync(app, { recursive: true, force: true });
  }, 180_000);
});

/** GET /_portside/health on a server's port 80 directly (not through the load balancer): the status code. */
async function fetchHealth(server: LocalFleetServer): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ host: server.address, port: HTTP_PORT, path: HEALTH_PATH, agent: false, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The processes in a network namespace now. */
function pidsIn(netns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).map(Number) : [];
}

/** Processes whose command line names `text` (e.g. a fleet state dir): none may survive `down`. */
function processesNaming(text: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
      if (cmd.includes(text)) out.push(`${pid} ${cmd}`);
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}
