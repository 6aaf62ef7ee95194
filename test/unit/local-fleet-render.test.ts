import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCaddyfile } from '../../lib/caddy';
import { parseRegistry, renderRegistry } from '../../lib/registry';
import { checkServerCount } from '../../lib/targets/local/fleet';
import { fleetServerSpec, FLEET_PATHS, MAX_FLEET_SERVERS } from '../../lib/targets/local/fleet-constants';
import { describeFleet, renderFleetJson } from '../../lib/targets/local/fleet-description';
import { renderLbCaddyfile } from '../../lib/targets/local/fleet-lb-caddyfile';
import { memberMac } from '../../lib/targets/local/fleet-network';
import { fleetServerRegistry } from '../../lib/targets/local/fleet-server';

/** The pure parts of the local fleet: the load balancer's Caddyfile, fleet.json, a server's names and first registry. */

const LB_INPUT = { domain: 'fleet.portside.test', servers: ['10.77.1.11', '10.77.1.12', '10.77.1.13'], healthIntervalMs: 1000 };

describe('renderLbCaddyfile', () => {
  test('HTTPS for the apex and one level of subdomains with its own CA, round robin over port 80, active health checks', () => {
    expect(renderLbCaddyfile(LB_INPUT)).toBe(`# Written by \`portside local up --servers N\`: the local stand-in for the fleet's load balancer.
{
\tlocal_certs
\tskip_install_trust
\tgrace_period 10s
}

fleet.portside.test, *.fleet.portside.test {
\ttls internal
\treverse_proxy 10.77.1.11:80 10.77.1.12:80 10.77.1.13:80 {
\t\tlb_policy round_robin
\t\tbuffer_requests
\t\tlb_try_duration 5s
\t\tlb_try_interval 100ms
\t\thealth_uri /_portside/health
\t\thealth_interval 1000ms
\t\thealth_timeout 1000ms
\t\thealth_status 200
\t}
}
`);
  });

  test('throws without servers, saying the rule', () => {
    expect(() => renderLbCaddyfile({ ...LB_INPUT, servers: [] })).toThrow('the load balancer needs at least one server; got none');
  });

  test('throws on a health interval Caddy would take as a busy loop', () => {
    expect(() => renderLbCaddyfile({ ...LB_INPUT, healthIntervalMs: 5 })).toThrow('healthIntervalMs must be a whole number of milliseconds ≥ 100, got 5');
  });
});

describe('fleet.json', () => {
  const specs = [1, 2].map(fleetServerSpec);
  const fleet = describeFleet(specs, ['SHA256:one', 'SHA256:two']);

  test('has the contract\'s fields; each server is a LocalServer with its name and namespace', () => {
    expect(JSON.parse(renderFleetJson(fleet))).toEqual({
      version: 1,
      domain: 'fleet.portside.test',
      caCertPath: FLEET_PATHS.lbCaCert,
      loadBalancer: { address: '10.77.1.2', httpsPort: 443, httpPort: 80, healthPath: '/_portside/health', healthIntervalMs: 1000 },
      servers: [
        { name: 's1', netns: 'portside-s1', address: '10.77.1.11', sshPort: 22, user: 'portside-s1', keyPath: '/var/lib/portside-fleet/client/id_ed25519', domain: 'fleet.portside.test', caCertPath: FLEET_PATHS.lbCaCert, hostKeyFingerprint: 'SHA256:one' },
        { name: 's2', netns: 'portside-s2', address: '10.77.1.12', sshPort: 22, user: 'portside-s2', keyPath: '/var/lib/portside-fleet/client/id_ed25519', domain: 'fleet.portside.test', caCertPath: FLEET_PATHS.lbCaCert, hostKeyFingerprint: 'SHA256:two' },
      ],
      store: {
        endpoint: 'http://10.77.1.3:4566', bucket: 'portside-fleet-releases', region: 'us-east-1', forcePathStyle: true,
        accessKeyId: 'portside-local', secretAccessKey: 'portside-local-not-secret', credentialsFile: '/var/lib/portside-fleet/store.json',
      },
      registryProxy: 'http://10.77.1.1:3128/',
    });
  });

  test('is indented by two spaces and ends with a newline', () => {
    expect(renderFleetJson(fleet)).toBe(`${JSON.stringify(fleet, null, 2)}\n`);
  });

  test('throws when a server has no fingerprint', () => {
    expect(() => describeFleet(specs, ['SHA256:one'])).toThrow('describeFleet: 2 servers but 1 host key fingerprints');
  });
});

describe('fleet server names', () => {
  test('server i: namespace, veth (≤ 15 characters), address and user', () => {
    const s = fleetServerSpec(MAX_FLEET_SERVERS);
    expect({ netns: s.netns, hostIf: s.hostIf, address: s.address, user: s.user }).toEqual({ netns: 'portside-s20', hostIf: 'pf-s20', address: '10.77.1.30', user: 'portside-s20' });
    expect(s.hostIf.length).toBeLessThanOrEqual(15);
    // Outside the single stand-in's state dir: its `up` stops processes naming that dir in another namespace.
    expect(s.dir.startsWith('/var/lib/portside-local')).toBe(false);
  });

  test('a member\'s MAC is fixed by its address (locally administered), so a re-made server keeps it', () => {
    expect(memberMac('10.77.1.14')).toBe('02:00:0a:4d:01:0e');
    expect(new Set(Array.from({ length: MAX_FLEET_SERVERS }, (_, i) => memberMac(fleetServerSpec(i + 1).address))).size).toBe(MAX_FLEET_SERVERS);
  });

  test.each([0, MAX_FLEET_SERVERS + 1, 1.5, NaN, '0', '3x', ''])('--servers %p is refused with the value, the rule and an example', (n) => {
    const shown = typeof n === 'number' ? String(n) : JSON.stringify(n);
    expect(() => checkServerCount(n)).toThrow(`--servers ${shown}: the local fleet has 1 to ${MAX_FLEET_SERVERS} servers (one network namespace, user, sshd and Caddy each); e.g. --servers 3`);
  });

  test('--servers text of a whole number is the count', () => {
    expect(checkServerCount('3')).toBe(3);
  });
});

describe('a fleet server\'s first registry', () => {
  const registry = fleetServerRegistry(fleetServerSpec(2));

  test('no services, behind the load balancer: X-Forwarded-* believed only from its address', () => {
    expect(parseRegistry(renderRegistry(registry))).toEqual(registry);
    expect(registry).toMatchObject({ domain: 'fleet.portside.test', routing: 'subdomain', services: {}, loadBalancer: { trustedProxies: ['10.77.1.2/32'] } });
  });

  test('renders plain-HTTP sites and the health answer from the marker beside the Caddyfile', () => {
    const text = renderCaddyfile({ ...registry, services: { simon: 3000 } });
    expect(text).toMatch(/^http:\/\/fleet\.portside\.test \{$/m);
    expect(text).toMatch(/^http:\/\/simon\.fleet\.portside\.test \{$/m);
    expect(text).toContain('\t\ttrusted_proxies 10.77.1.2/32\n');
    expect(text).toContain(`\t\t\troot /var/lib/portside-fleet/s2/etc\n\t\t\ttry_files /portside-converged\n`);
  });
});

const hasCaddy = spawnSync('sh', ['-c', 'command -v caddy']).status === 0;
const describeCaddy = hasCaddy ? describe : describe.skip;
if (!hasCaddy) console.warn('real-Caddy checks of the fleet\'s Caddyfiles skipped: caddy is not installed');

describeCaddy('the fleet\'s Caddyfiles, checked by the real caddy', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'portside-fleet-caddyfile-'));
    env = { ...process.env, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config'), HOME: dir };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['the load balancer', renderLbCaddyfile(LB_INPUT)],
    ['a fleet server with a service', renderCaddyfile({ ...fleetServerRegistry(fleetServerSpec(1)), services: { simon: 3000 } })],
  ])('%s: adapts and validates on this Caddy (2.6.2 here)', (name, text) => {
    const file = join(dir, `${name.replace(/[^a-z]+/g, '-')}.Caddyfile`);
    writeFileSync(file, text);
    const r = spawnSync('caddy', ['validate', '--config', file, '--adapter', 'caddyfile'], { env, encoding: 'utf8' });
    expect({ code: r.status, err: r.status === 0 ? '' : r.stderr }).toEqual({ code: 0, err: '' });
  });
});
