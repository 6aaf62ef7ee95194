/**
 * The doctor against a fleet, on facts only (no server): a fleet server (its registry has `loadBalancer`)
 * serves plain HTTP on 80 behind the load balancer, so the families that check 443, certificates, DNS
 * and the security group judge it by the fleet's model instead of reporting the design as problems;
 * then the fleet's own checks compare the servers with each other, the manifest and the load balancer.
 */
import { renderCaddyfile } from '../../lib/caddy';
import { CHECK_FAMILIES, DoctorFacts, runChecks } from '../../lib/doctor';
import { diagnoseFleet, fleetChecks, FleetFacts, formatFleetReport } from '../../lib/doctor/fleet';
import { LB_HEALTH_KEY, probeRequest } from '../../lib/doctor/probe-plan';
import type { FleetManifest } from '../../lib/fleet/store-layout';
import { Registry, renderRegistry } from '../../lib/registry';
import { byId, healthy, NOW, outsideSees, problems, registry, run, ss, statuses } from '../support/doctor-facts';

const LB_SG = 'sg-0lb';
const fleetRegistry: Registry = { ...registry, loadBalancer: { trustedProxies: ['10.80.0.0/24'] } };

/**
 * A healthy fleet server on AWS: Caddy on 80 only (nothing on 443), 80 filtered from outside (only the
 * load balancer's group may connect), no certificate of its own, the names resolve to the load balancer.
 */
function fleetServer(address: string, releases: Record<string, string> = { simon: 'r1', startup: 'r2' }, health: number | string = 200): DoctorFacts {
  const f = outsideSees(outsideSees(healthy(), 443, 'filtered'), 80, 'filtered');
  return {
    ...f, address, registry: fleetRegistry, registryText: renderRegistry(fleetRegistry), caddyfile: renderCaddyfile(fleetRegistry),
    sockets: ss([], ':443'), certificates: [],
    dns: ['example.click', 'simon.example.click'].map((name) => ({ name, addresses: ['198.51.100.10', '198.51.100.11'] })),
    folders: Object.entries(releases).map(([name, release]) => ({ name, release, healthPath: '/' })),
    viaCaddy: { ...f.viaCaddy, [LB_HEALTH_KEY]: health },
    securityGroup: [
      { groupId: 'sg-srv', protocol: 'tcp', fromPort: 22, toPort: 22, peer: '128.187.0.0/16' },
      { groupId: 'sg-srv', protocol: 'tcp', fromPort: 80, toPort: 80, peer: LB_SG },
    ],
  };
}

const family = (name: string) => CHECK_FAMILIES.find((x) => x.name === name)!;

describe('the ten check families on a fleet server (registry with loadBalancer)', () => {
  test('a healthy fleet server on AWS has no problem in any family: 443 closed, no certificate, 80 only from the load balancer', () => {
    const results = runChecks(fleetServer('203.0.113.21'));
    expect(problems(results)).toEqual([]);
    expect(statuses(results)).toMatchObject({
      'exposure.open.443': 'pass', 'exposure.open.80': 'info', 'sockets.missing.443': 'pass', tls: 'skip', dns: 'skip', sg: 'pass',
    });
    expect(byId(results, 'tls')!.message).toContain('TLS ends at the load balancer');
  });

  test('the same facts without loadBalancer (a single server) fail on 443, the certificate, DNS and the security group', () => {
    const f = fleetServer('203.0.113.21');
    const single = { ...f, registry, registryText: renderRegistry(registry), caddyfile: renderCaddyfile(registry) };
    const failedIds = problems(runChecks(single)).map((r) => r.id);
    expect(failedIds).toEqual(expect.arrayContaining(['exposure.open.443', 'sockets.missing.443', 'dns.example.click', 'sg.missing.80.0.0.0.0/0']));
  });

  test('a fleet server with something on 443 is warned: TLS beside the load balancer is a wrong Caddyfile', () => {
    const f = outsideSees({ ...fleetServer('203.0.113.21'), sockets: ss(['LISTEN 0 4096 *:443 *:* users:(("caddy",pid=900,fd=7))']) }, 443, 'open');
    expect(statuses(run(family('sockets'), f))['sockets.fleet.443']).toBe('warn');
    expect(statuses(run(family('exposure'), f))['exposure.open.443']).toBe('warn');
  });

  test('the local fleet: 80 open from the bridge passes; closed fails as on a single server', () => {
    const local = { ...outsideSees(fleetServer('10.77.1.11'), 80, 'open'), target: 'local' as const };
    expect(statuses(run(family('exposure'), local))['exposure.open.80']).toBe('pass');
    expect(statuses(run(family('exposure'), { ...local, ...outsideSees(local, 80, 'refused') }))['exposure.open.80']).toBe('fail');
  });

  test('security group: 80 from the world, or no rule for the load balancer, fails', () => {
    const f = fleetServer('203.0.113.21');
    const world = { ...f, securityGroup: [...(f.securityGroup as []), { groupId: 'sg-srv', protocol: 'tcp', fromPort: 80, toPort: 80, peer: '0.0.0.0/0' }] };
    const open = run(family('security-group'), world);
    expect(byId(open, 'sg.extra.sg-srv.tcp.80.0.0.0.0/0')).toMatchObject({ status: 'fail', message: expect.stringContaining('without the load balancer') });
    const noLb = run(family('security-group'), { ...f, securityGroup: (f.securityGroup as []).slice(0, 1) });
    expect(byId(noLb, 'sg.missing.80.load-balancer')!.status).toBe('fail');
  });

  test('the probe plan asks a fleet server over plain HTTP, for no certificate, and asks the health check', () => {
    const folders = [{ name: 'simon', release: 'r1', healthPath: '/' }];
    const req = probeRequest(fleetRegistry, folders, [], '203.0.113.21');
    expect(req.certificates).toEqual([]);
    expect(req.viaCaddy).toEqual([
      { name: 'simon', url: 'http://simon.example.click/' }, { name: '@site', url: 'http://example.click/' },
      { name: LB_HEALTH_KEY, url: 'http://127.0.0.1:80/_portside/health' },
    ]);
    expect(probeRequest(registry, folders, [], '203.0.113.21').viaCaddy.map((v) => v.name)).not.toContain(LB_HEALTH_KEY);
    expect(probeRequest(registry, folders, [], '203.0.113.21', true).viaCaddy.map((v) => v.name)).toContain(LB_HEALTH_KEY);
  });
});

const manifest = (simon = 'r1', startup = 'r2'): FleetManifest => ({
  version: 1, updatedAt: '2026-05-31T12:00:00.000Z', static: null,
  services: { simon: { port: 3000, release: 'a'.repeat(64), releaseId: simon }, startup: { port: 4000, release: 'b'.repeat(64), releaseId: startup } },
});

function fleet(servers: FleetFacts['servers'], m: FleetFacts['manifest'] = manifest()): FleetFacts {
  const certificates = ['example.click', 'simon.example.click', 'startup.example.click'].map((host) => ({ host, validFrom: '2026-05-01T00:00:00Z', validTo: '2027-05-01T00:00:00Z', issuer: 'Amazon RSA 2048 M02' }));
  const dns = ['example.click', 'simon.example.click'].map((name) => ({ name, addresses: ['198.51.100.10', '198.51.100.11'] }));
  return { kind: 'aws', servers, manifest: m, loadBalancer: { address: 'example.click', certificates, site: { url: 'https://example.click/', outcome: 200 } }, dns, now: NOW };
}
const member = (name: string, address: string, facts: DoctorFacts | { error: string }) => ({ label: `${name} (${address})`, address, facts });

describe('the fleet checks', () => {
  test('three servers on the manifest\'s releases, all converged: every fleet check passes and each server is shown', () => {
    const results = fleetChecks(fleet([1, 2, 3].map((i) => member(`s${i}`, `203.0.113.2${i}`, fleetServer(`203.0.113.2${i}`)))));
    expect(problems(results)).toEqual([]);
    expect(byId(results, 'fleet.server.s2')!.message).toBe('s2 (203.0.113.22): GET /_portside/health answers HTTP 200; simon r1, startup r2 (converged: in the load balancer\'s rotation)');
    expect(byId(results, 'fleet.release.simon')!.message).toBe('simon: every server runs r1, the manifest\'s release');
    expect(statuses(results)).toMatchObject({ 'fleet.manifest': 'pass', 'fleet.lb.site': 'pass', 'fleet.lb.tls.example.click': 'pass' });
  });

  test('different releases of a service: the fleet disagrees, naming each server\'s release and the manifest\'s', () => {
    const results = fleetChecks(fleet([
      member('s1', '203.0.113.21', fleetServer('203.0.113.21')), member('s2', '203.0.113.22', fleetServer('203.0.113.22', { simon: 'r0', startup: 'r2' })),
    ]));
    expect(byId(results, 'fleet.release.simon')).toMatchObject({ status: 'fail', message: 'simon: the fleet disagrees (s1 r1, s2 r0; the manifest says r1): the load balancer sends each request to any one of them' });
    expect(byId(results, 'fleet.release.simon')!.fix).toContain('portside deploy-service simon --force');
    expect(byId(results, 'fleet.release.startup')!.status).toBe('pass');
  });

  test('every server agrees but not with the manifest (a server not on the manifest): fails', () => {
    const results = fleetChecks(fleet([member('s1', '203.0.113.21', fleetServer('203.0.113.21'))], manifest('r9')));
    expect(byId(results, 'fleet.release.simon')).toMatchObject({ status: 'fail', message: expect.stringContaining('s1 r1; the manifest says r9') });
  });

  test('a server that answers 503 (not converged) fails, saying the load balancer sends it nothing', () => {
    const results = fleetChecks(fleet([member('s1', '203.0.113.21', fleetServer('203.0.113.21', undefined, 503))]));
    expect(byId(results, 'fleet.server.s1')).toMatchObject({ status: 'fail', message: expect.stringContaining('HTTP 503; simon r1, startup r2: not converged, so the load balancer sends it nothing') });
  });

  test('a server whose registry lost loadBalancer, one that cannot be read, and a service only one server has', () => {
    const lost = { ...fleetServer('203.0.113.22', { simon: 'r1', startup: 'r2', extra: 'x1' }), registry: { ...registry, services: { ...registry.services, extra: 5000 } } };
    const results = fleetChecks(fleet([member('s1', '203.0.113.21', fleetServer('203.0.113.21')), member('s2', '203.0.113.22', lost), member('s3', '203.0.113.23', { error: 'cannot open SSH: timeout' })]));
    expect(statuses(results)).toMatchObject({ 'fleet.lb-mode.s2': 'fail', 'fleet.server.s3': 'fail', 'fleet.release.extra': 'fail', 'fleet.release.simon': 'pass' });
    expect(byId(results, 'fleet.release.extra')!.message).toBe('extra: the fleet disagrees (s1 none, s2 x1; the manifest does not name it): the load balancer sends each request to any one of them');
  });

  test('no manifest yet is a note; an unreadable store and a load balancer certificate near its end are problems', () => {
    const s = [member('s1', '203.0.113.21', fleetServer('203.0.113.21'))];
    expect(byId(fleetChecks(fleet(s, null)), 'fleet.manifest')!.status).toBe('info');
    expect(byId(fleetChecks(fleet(s, { error: 'AccessDenied' })), 'fleet.manifest')!.status).toBe('fail');
    const f = fleet(s);
    const lb = { ...(f.loadBalancer as Exclude<FleetFacts['loadBalancer'], { error: string }>), certificates: [{ host: 'example.click', validFrom: '2025-06-10T00:00:00Z', validTo: '2026-06-05T00:00:00Z' }] };
    expect(byId(fleetChecks({ ...f, loadBalancer: lb }), 'fleet.lb.tls.example.click')!.status).toBe('warn');
  });

  test('DNS: a name resolving to a server\'s own address bypasses the load balancer and fails; none resolving fails', () => {
    const f = fleet([member('s1', '203.0.113.21', fleetServer('203.0.113.21'))]);
    expect(byId(fleetChecks(f), 'fleet.dns.example.click')!.status).toBe('pass');
    const direct = fleetChecks({ ...f, dns: [{ name: 'example.click', addresses: ['203.0.113.21'] }, { name: 'simon.example.click', addresses: [], error: 'ENOTFOUND' }] });
    expect(byId(direct, 'fleet.dns.example.click')).toMatchObject({ status: 'fail', message: 'example.click resolves to s1 (203.0.113.21): requests reach that server without the load balancer' });
    expect(byId(direct, 'fleet.dns.simon.example.click')!.status).toBe('fail');
  });

  test('the report: a block per server with its own checks, the fleet block, one summary over all', () => {
    const report = diagnoseFleet(fleet([member('s1', '203.0.113.21', fleetServer('203.0.113.21')), member('s2', '203.0.113.22', { error: 'cannot open SSH: refused' })]));
    expect(report.servers[1].results).toEqual([expect.objectContaining({ id: 'ssh', status: 'fail' })]);
    const lines = formatFleetReport(report);
    expect(lines[0]).toBe('server s1 (203.0.113.21)');
    expect(lines).toContain('server s2 (203.0.113.22)');
    expect(lines).toContain('fleet of 2 servers');
    expect(lines.at(-1)).toMatch(/^fleet: 2 problems: \d+ passed, 2 failed/);
  });
});
