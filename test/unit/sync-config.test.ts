import { UserError } from '../../lib/errors';
import { describeChange, mergeDeclared, parseDeclared } from '../../lib/deploy/sync-config';
import { Registry, renderRegistry } from '../../lib/registry';

const live: Registry = {
  version: 1,
  domain: 'portside.test',
  routing: 'subdomain',
  tls: 'internal',
  services: { simon: 3000, startup: 4000, 'cli-only': 3500 },
  paths: { www: '/var/lib/portside-local/www', caddyfile: '/var/lib/portside-local/etc/Caddyfile' },
};

/** What a `cdk deploy` writes: EC2's paths and TLS, the declared services only. */
const declared = (over: Partial<Registry> = {}): Registry => ({
  version: 1,
  domain: 'portside.test',
  routing: 'subdomain',
  tls: 'acme',
  services: { simon: 3000, startup: 4000 },
  paths: { www: '/var/www/portside', caddyfile: '/etc/portside/Caddyfile' },
  ...over,
});

function refusal(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected a refusal');
}

describe('mergeDeclared', () => {
  test('the same declared configuration is already in sync: no changes, the live registry unchanged', () => {
    const { merged, changes } = mergeDeclared(live, declared());
    expect(changes).toEqual([]);
    expect(renderRegistry(merged)).toBe(renderRegistry(live));
  });

  test('adopts domain, email and routing; keeps tls and paths; overlays declared ports on live services', () => {
    const { merged, changes } = mergeDeclared(live, declared({
      domain: 'example.org', email: 'ops@example.org', routing: 'path', services: { simon: 3100, startup: 4000, extra: 4100 },
    }));
    expect(merged).toEqual({
      version: 1,
      domain: 'example.org',
      email: 'ops@example.org',
      routing: 'path',
      tls: 'internal',
      services: { simon: 3100, startup: 4000, 'cli-only': 3500, extra: 4100 },
      paths: live.paths,
    });
    expect(changes).toEqual([
      { kind: 'domain', from: 'portside.test', to: 'example.org' },
      { kind: 'email', from: undefined, to: 'ops@example.org' },
      { kind: 'routing', from: 'subdomain', to: 'path' },
      { kind: 'new', service: 'extra', port: 4100 },
      { kind: 'port', service: 'simon', from: 3000, to: 3100 },
    ]);
    expect(changes.map(describeChange)).toEqual([
      'domain portside.test → example.org',
      'email (none) → ops@example.org',
      'routing subdomain → path',
      'new service extra on 4100',
      'service simon: 3000 → 3100',
    ]);
  });

  test('a service deployed with the CLI and not declared keeps its port and route', () => {
    const { merged } = mergeDeclared(live, declared({ services: {} }));
    expect(merged.services).toEqual(live.services);
  });

  test('a declared domain that is gone is dropped (path routing on the IP)', () => {
    const { merged, changes } = mergeDeclared(live, declared({ domain: undefined, routing: 'path' }));
    expect(merged.domain).toBeUndefined();
    expect(changes).toEqual([{ kind: 'domain', from: 'portside.test', to: undefined }, { kind: 'routing', from: 'subdomain', to: 'path' }]);
  });

  test('a declared port that collides with a CLI-deployed service is refused, naming both', () => {
    const e = refusal(() => mergeDeclared(live, declared({ services: { newbie: 3500 } })));
    expect(e.message).toBe('cannot adopt the declared configuration: declared service "newbie" on port 3500: port 3500 is already assigned to "cli-only"; free: 3501, 3502');
    expect(e.detail).toContain('portside deploy-service cli-only <port>');
    expect(e.detail).toContain('Nothing was changed');
  });

  test('two declared services on one port are refused', () => {
    const e = refusal(() => mergeDeclared(live, declared({ services: { a: 4200, b: 4200 } })));
    expect(e.message).toBe('cannot adopt the declared configuration: declared service "a" on port 4200: port 4200 is already assigned to "b"; free: 4201, 4202');
  });

  test('a declared port the port model refuses (reserved, well-known) is refused with its message', () => {
    expect(refusal(() => mergeDeclared(live, declared({ services: { web: 443 } }))).message)
      .toBe('cannot adopt the declared configuration: declared service "web" on port 443: port 443 is HTTPS, already served by Caddy; pick a free port such as 3001');
    expect(refusal(() => mergeDeclared(live, declared({ services: { web: 80.5 } }))).message)
      .toMatch(/declared service "web" on port 80.5: 80.5 is not a TCP port/);
  });

  test('moving a running service is refused with the deploy-service command that moves it safely', () => {
    const e = refusal(() => mergeDeclared(live, declared({ services: { simon: 3100, startup: 4000 } }), { simon: { status: 'online', port: 3000 } }));
    expect(e.message).toBe('cannot adopt the declared configuration: "simon" is running on port 3000 and the declared port is 3100; sync-config does not move running services');
    expect(e.detail).toContain('portside deploy-service simon 3100');
  });

  test('a registered service with no process may change port; a process already on the declared port is fine', () => {
    expect(mergeDeclared(live, declared({ services: { simon: 3100 } }), { startup: { status: 'online', port: 4000 } }).merged.services.simon).toBe(3100);
    expect(mergeDeclared(live, declared({ services: { simon: 3100 } }), { simon: { status: 'online', port: 3100 } }).merged.services.simon).toBe(3100);
  });

  test('a result the registry would refuse (subdomain routing with no domain) is refused', () => {
    const e = refusal(() => mergeDeclared(live, declared({ domain: undefined, routing: 'subdomain' })));
    expect(e.message).toBe('cannot adopt the declared configuration: the merged registry would be invalid: subdomain routing without a domain');
  });
});

describe('parseDeclared', () => {
  test('reads a registry-format file', () => {
    expect(parseDeclared(renderRegistry(declared()), '/etc/portside/declared.json').domain).toBe('portside.test');
  });

  test('refuses a broken one, naming the file', () => {
    expect(refusal(() => parseDeclared('{"version":2', '/etc/portside/declared.json')).message)
      .toMatch(/^the declared configuration \(\/etc\/portside\/declared.json\) is not usable: not valid JSON: /);
    expect(refusal(() => parseDeclared(JSON.stringify({ ...declared(), routing: 'both' }), '/x/declared.json')).message)
      .toBe('the declared configuration (/x/declared.json) is not usable: routing is "both"');
  });
});
