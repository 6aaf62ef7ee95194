/**
 * `portside doctor` against the local fleet, end to end through the real CLI: two stand-in servers (real
 * sshd, Caddy on plain HTTP behind the load balancer, pm2), the load balancer and the store, from
 * `portside local up --servers 2`; taken down with `local down --fleet` at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CheckResult } from '../../lib/doctor';
import { CONVERGED_MARKER_FILE, REGISTRY_FILE } from '../../lib/remote/layout';
import { readLocalFleet } from '../../lib/targets/local/fleet-description';
import { cli } from '../support/cli';
import { localServerUnavailable } from '../support/local-server';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e doctor-fleet tests skipped: ${why}`);

const NAME = 'e2e-docfleet';
const PORT = 4873;
const work = mkdtempSync(join(tmpdir(), 'portside-doctor-fleet-'));

/** A dependency-free service saying `text`. */
function appSaying(text: string): string {
  const dir = mkdtempSync(join(work, 'app-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: NAME, version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), `require('http').createServer((q, r) => r.end(${JSON.stringify(text)})).listen(Number(process.argv[2]));\n`);
  return dir;
}

interface FleetJson {
  ok: boolean;
  summary: string;
  servers: Array<{ server: string; address: string; results: CheckResult[] }>;
  fleet: CheckResult[];
}

async function doctor(): Promise<{ code: number; report: FleetJson; err: string }> {
  const r = await cli('doctor', '--target', 'local', '--fleet', '--json');
  return { code: r.code, report: JSON.parse(r.out) as FleetJson, err: r.err };
}
const byId = (results: readonly CheckResult[], id: string) => results.find((r) => r.id === id);
const failures = (results: readonly CheckResult[]) => results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.message}`);

/** Server 2's health marker, beside its live Caddyfile (what its registry names). */
function markerOfS2(): string {
  const s2 = readLocalFleet().servers[1];
  const home = execFileSync('getent', ['passwd', s2.user], { encoding: 'utf8' }).trim().split(':')[5];
  const registry = JSON.parse(readFileSync(join(home, REGISTRY_FILE), 'utf8')) as { paths: { caddyfile: string } };
  return join(dirname(registry.paths.caddyfile), CONVERGED_MARKER_FILE);
}

describeE2E('portside doctor against a local fleet of 2', () => {
  beforeAll(async () => {
    expect(await cli('local', 'up', '--servers', '2')).toExitWith(0);
    expect(await cli('deploy-service', NAME, String(PORT), '--dir', appSaying('doctor fleet one'), '--target', 'local', '--fleet')).toExitWith(0);
  }, 300_000);

  afterAll(async () => {
    await cli('local', 'down', '--fleet');
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  test('a converged fleet on one release: no failure on any server (443, TLS and DNS judged as a fleet server), each server shown', async () => {
    const { code, report } = await doctor();
    expect(report.servers.map((s) => s.server)).toEqual(['s1 (10.77.1.11)', 's2 (10.77.1.12)']);
    for (const s of report.servers) {
      expect(failures(s.results)).toEqual([]);
      expect(byId(s.results, 'exposure.open.443')!.status).toBe('pass');
      expect(byId(s.results, 'sockets.missing.443')!.status).toBe('pass');
      expect(byId(s.results, 'tls')!.status).toBe('skip');
      expect(byId(s.results, `health.caddy.${NAME}`)!.status).toBe('pass');
    }
    expect(failures(report.fleet)).toEqual([]);
    const release = byId(report.fleet, `fleet.release.${NAME}`)!;
    expect(release.message).toMatch(new RegExp(`^${NAME}: every server runs \\d{8}T\\d{6}Z-[0-9a-f]{4}, the manifest's release$`));
    expect(byId(report.fleet, 'fleet.server.s2')!.message).toMatch(new RegExp(`^s2 \\(10\\.77\\.1\\.12\\): GET /_portside/health answers HTTP 200; ${NAME} \\d{8}T`));
    expect(byId(report.fleet, `fleet.lb.tls.${NAME}.fleet.portside.test`)!.status).toBe('pass');
    expect(code).toBe(0);
  }, 120_000);

  test('a server whose health check answers 503 is named, and doctor exits 1', async () => {
    const marker = markerOfS2();
    const saved = readFileSync(marker);
    rmSync(marker);
    try {
      const { code, report } = await doctor();
      expect(byId(report.fleet, 'fleet.server.s2')).toMatchObject({ status: 'fail', message: expect.stringContaining('answers HTTP 503') });
      expect(byId(report.fleet, 'fleet.server.s1')!.status).toBe('pass');
      expect(code).toBe(1);
    } finally {
      writeFileSync(marker, saved);
    }
  }, 120_000);

  test('a service on another release on one server (deployed to it alone): the fleet disagrees, naming both releases', async () => {
    const s2 = readLocalFleet().servers[1];
    const alone = await cli('deploy-service', NAME, String(PORT), '--dir', appSaying('doctor fleet two, s2 only'), '--host', s2.address, '--user', s2.user, '--key', s2.keyPath);
    expect(alone).toExitWith(0);
    const { code, report } = await doctor();
    const release = byId(report.fleet, `fleet.release.${NAME}`)!;
    expect(release.status).toBe('fail');
    expect(release.message).toMatch(new RegExp(`^${NAME}: the fleet disagrees \\(s1 (\\S+), s2 (?!\\1)\\S+; the manifest says \\1\\)`));
    expect(code).toBe(1);
  }, 180_000);
});
