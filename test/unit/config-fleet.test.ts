/**
 * The fleet's context keys (issue #10): `servers` (default 1) and `maxServers` (default = servers), and what
 * a fleet needs from the other keys. Each refusal is one printed line: key, rule and fix, value received.
 */
import { ConfigError, ContextKey, formatProblem, loadConfig, parseContextFlags } from '../../lib/config';

/** A valid fleet baseline; each negative test changes one field. */
const FLEET: Readonly<Record<string, unknown>> = {
  schoolCidr: '128.187.0.0/16', routing: 'subdomain', instanceType: 't3.micro',
  domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ', servers: 3,
};

const load = (overrides: Partial<Record<ContextKey, unknown>>, base: Record<string, unknown> = FLEET) => {
  const ctx: Record<string, unknown> = { ...base, ...overrides };
  return loadConfig((key) => ctx[key]);
};

/** Every printed problem line, as bin/app.ts shows them. */
function problemLines(overrides: Partial<Record<ContextKey, unknown>>, base?: Record<string, unknown>): string[] {
  try {
    load(overrides, base);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map(formatProblem);
  }
  throw new Error(`expected ${JSON.stringify(overrides)} to be refused`);
}

describe('servers and maxServers', () => {
  test('default to one server, exactly as before (no domain needed)', () => {
    const c = load({ servers: undefined, domain: undefined, hostedZoneId: undefined, routing: 'path' });
    expect([c.servers, c.maxServers]).toEqual([1, 1]);
  });

  test('take numbers (cdk.json) and their text (-c), maxServers defaulting to servers', () => {
    expect(load({}).servers).toBe(3);
    expect(load({}).maxServers).toBe(3);
    expect(load({ servers: '2', maxServers: '6' })).toMatchObject({ servers: 2, maxServers: 6 });
    expect(load({ servers: '', maxServers: '' }, { ...FLEET, servers: undefined })).toMatchObject({ servers: 1, maxServers: 1 });
  });

  test('-c accepts both keys', () => {
    expect(parseContextFlags(['servers=3', 'maxServers=5'])).toEqual({ servers: '3', maxServers: '5' });
  });

  test.each<[unknown]>([[0], ['0'], [-2], [2.5], ['two'], ['3 '.repeat(2)], [true]])('refuses servers=%j with the rule and an example', (v) => {
    expect(problemLines({ servers: v })).toEqual([
      `servers: servers is a whole number of at least 1; e.g. -c servers=3 (1 is a single server) (received ${JSON.stringify(v)})`,
    ]);
  });

  test('refuses maxServers below servers, naming servers', () => {
    expect(problemLines({ servers: 3, maxServers: 2 })).toEqual([
      'maxServers: maxServers is a whole number of at least 3; the fleet never has fewer than servers=3; e.g. -c maxServers=6 (received 2)',
    ]);
  });

  test('refuses maxServers above 1 for a single server', () => {
    expect(problemLines({ servers: 1, maxServers: 4 })).toEqual([
      'maxServers: a single server (servers=1) has no Auto Scaling group to grow: set -c servers=2 or more for a fleet, or drop maxServers (received 4)',
    ]);
  });
});

describe('a fleet needs', () => {
  const why = 'servers=3 is a fleet behind a load balancer, whose HTTPS certificate (apex and *.<domain>) is validated through DNS in your Route 53 zone';

  test('a domain and its hosted zone, each named with the fix', () => {
    expect(problemLines({ domain: undefined, hostedZoneId: undefined, routing: 'path' })).toEqual([
      `domain: ${why}: set -c domain=<your domain>, e.g. example.click, or use -c servers=1 (received undefined)`,
      `hostedZoneId: ${why}: set -c hostedZoneId=<the domain's hosted zone ID, Z…>, or use -c servers=1 (received undefined)`,
    ]);
  });

  test('the hosted zone even when the domain is set', () => {
    expect(problemLines({ hostedZoneId: '' })).toEqual([
      `hostedZoneId: ${why}: set -c hostedZoneId=<the domain's hosted zone ID, Z…>, or use -c servers=1 (received undefined)`,
    ]);
  });

  test('no ACME email: it is accepted with a warning that says it is not used', () => {
    expect(load({ email: 'me@example.com' }).warnings).toEqual([
      'email: a fleet\'s HTTPS certificate comes from AWS Certificate Manager and its servers ask no ACME CA for one, so email (me@example.com) is not used with servers=3',
    ]);
    expect(load({ email: 'me@example.com', servers: 1 }).warnings).toEqual([]);
  });

  test('no single Availability Zone', () => {
    expect(problemLines({ availabilityZone: 'us-east-1a' })).toEqual([
      'availabilityZone: servers=3 spreads the fleet over two Availability Zones the region chooses; drop availabilityZone (it places a single server) (received "us-east-1a")',
    ]);
  });
});
