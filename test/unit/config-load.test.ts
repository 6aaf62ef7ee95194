import { ConfigError, ConfigProblem, ContextKey, formatProblem, loadConfig, parseContextFlags } from '../../lib/config';

// Not a key: the armour line alone, assembled so that no file in the repository looks like one.
const FAKE_KEY_BEGIN = ['-----BEGIN', 'OPENSSH PRIVATE KEY-----'].join(' ');
const FAKE_KEY_END = ['-----END', 'OPENSSH PRIVATE KEY-----'].join(' ');

/** A valid baseline; each negative test changes one field (Kamal's assert_error habit). */
const BASE: Readonly<Record<string, unknown>> = {
  schoolCidr: '128.187.0.0/16',
  routing: 'subdomain',
  services: { simon: 3000, startup: 4000 },
  instanceType: 't3.micro',
  domain: 'example.click',
};

function load(overrides: Partial<Record<ContextKey, unknown>>) {
  const ctx: Record<string, unknown> = { ...BASE, ...overrides };
  return loadConfig((key) => ctx[key]);
}

function problemsOf(overrides: Partial<Record<ContextKey, unknown>>): readonly ConfigProblem[] {
  try {
    load(overrides);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(overrides)} to be refused`);
}

/** The one problem a bad field causes: its key, the value received, and the rule in words. */
function expectOneProblem(overrides: Partial<Record<ContextKey, unknown>>, key: string, value: unknown, rule: string | RegExp) {
  const problems = problemsOf(overrides);
  expect(problems).toHaveLength(1);
  expect(problems[0].key).toBe(key);
  expect(problems[0].value).toEqual(value);
  if (typeof rule === 'string') expect(problems[0].message).toContain(rule);
  else expect(problems[0].message).toMatch(rule);
  // The printed line carries all three, the way bin/app.ts shows it.
  const line = formatProblem(problems[0]);
  expect(line.startsWith(`${key}: `)).toBe(true);
  expect(line).toContain(`(received ${JSON.stringify(value)})`);
}

describe('loadConfig accepts', () => {
  test('the defaults (cdk.json), routing by subdomain under a domain', () => {
    const c = load({});
    expect(c).toEqual({
      schoolCidrs: ['128.187.0.0/16'], domain: 'example.click', email: undefined, routing: 'subdomain',
      services: { simon: 3000, startup: 4000 }, instanceType: 't3.micro', hostedZoneId: undefined, sshPublicKey: undefined,
      cpuCredits: 'standard', availabilityZone: undefined, servers: 1, maxServers: 1, warnings: [],
    });
  });

  test('CIDR lists as text or JSON, IPv6 included, duplicates dropped', () => {
    expect(load({ schoolCidr: '128.187.0.0/16, 2001:db8::/32,128.187.0.0/16' }).schoolCidrs).toEqual(['128.187.0.0/16', '2001:db8::/32']);
    expect(load({ schoolCidr: ['10.0.0.0/8', '192.0.2.0/24'] }).schoolCidrs).toEqual(['10.0.0.0/8', '192.0.2.0/24']);
  });

  test('services as name:port text (the -c form) or a JSON string', () => {
    expect(load({ services: 'simon:3000,startup:4000' }).services).toEqual({ simon: 3000, startup: 4000 });
    expect(load({ services: '{"chat":5000}' }).services).toEqual({ chat: 5000 });
  });

  test('-c values given as empty strings mean "not set"', () => {
    expect(load({ domain: '', routing: 'path' }).domain).toBeUndefined();
  });
});

describe('loadConfig refuses schoolCidr', () => {
  test.each<[string, unknown, string | RegExp]>([
    ['0.0.0.0/0 (SSH open to the internet)', '0.0.0.0/0', 'would open SSH to the whole internet'],
    ['::/0 (SSH open to the IPv6 internet)', '::/0', 'would open SSH to the whole internet'],
    ['a /0 hidden in a list', '10.0.0.0/8,0.0.0.0/0', 'would open SSH to the whole internet'],
    ['an IPv4 prefix longer than 32', '1.2.3.4/33', 'an IPv4 prefix length is 0–32, got /33'],
    ['an IPv6 prefix longer than 128', '2001:db8::/129', 'an IPv6 prefix length is 0–128, got /129'],
    ['a word', 'banana', 'a CIDR is an address and a prefix length'],
    ['an address without a prefix', '1.2.3.4', 'a CIDR is an address and a prefix length'],
    ['an octet over 255', '300.1.1.1/8', '"300.1.1.1" is not an IPv4 or IPv6 address'],
    ['a zero-padded octet', '010.0.0.0/8', '"010.0.0.0" is not an IPv4 or IPv6 address'],
    ['host bits set', '128.187.1.1/16', 'host bits are set; the network is 128.187.0.0/16'],
    ['IPv6 host bits set', '2001:db8::1/32', 'host bits are set; the network is 2001:db8:0:0:0:0:0:0/32'],
  ])('%s', (_title, value, rule) => {
    const reported = typeof value === 'string' && value.includes(',') ? value.split(',')[1] : value;
    expectOneProblem({ schoolCidr: value }, 'schoolCidr', reported, rule);
  });

  test('an empty list', () => {
    expectOneProblem({ schoolCidr: [] }, 'schoolCidr', [], 'give one or more comma-separated CIDRs');
  });
});

describe('loadConfig refuses domain', () => {
  test.each<[string, string, string]>([
    ['uppercase', 'Example.click', 'a domain must be lowercase: use "example.click"'],
    ['a trailing dot', 'example.click.', 'drop the trailing dot: use "example.click"'],
    ['an IPv4 address', '1.2.3.4', 'an IP address is not a domain'],
    ['an IPv6 address', '2001:db8::1', 'an IP address is not a domain'],
    ['a wildcard', '*.example.click', 'a wildcard is not a domain'],
    ['a single label', 'localhost', 'a domain needs at least two labels'],
    ['an underscore', 'my_site.click', '"my_site" is not a valid label'],
    ['a leading hyphen', '-site.click', '"-site" is not a valid label'],
    ['an all-digit top-level label', 'site.123', 'the last label of a domain cannot be all digits'],
  ])('%s', (_title, value, rule) => {
    expectOneProblem({ domain: value }, 'domain', value, rule);
  });
});

describe('loadConfig refuses routing', () => {
  test.each(['Path', 'paths', 'host', 5])('%j', (value) => {
    expectOneProblem({ routing: value }, 'routing', value, 'routing is "subdomain" (simon.<domain>) or "path" (<domain>/simon/)');
  });
});

describe('loadConfig refuses service names', () => {
  test.each<[string, string, string]>([
    ['uppercase', 'Simon', 'a service name must be a DNS label'],
    ['an underscore', 'my_app', 'a service name must be a DNS label'],
    ['a leading digit', '2fa', 'a service name must be a DNS label'],
    ['a trailing hyphen', 'app-', 'a service name must be a DNS label'],
    ['a dot', 'a.b', 'a service name must be a DNS label'],
    ['a reserved name', 'www', '"www" is reserved by the server'],
    ['64 characters', 'a'.repeat(64), 'at most 63 characters; this one has 64'],
  ])('%s', (_title, name, rule) => {
    expectOneProblem({ services: { [name]: 3000 } }, `services.${name}`, name, rule);
  });

  test('a name listed twice in the -c form', () => {
    expectOneProblem({ services: 'simon:3000,simon:3001' }, 'services.simon', 'simon', 'this service is listed twice');
  });
});

describe('loadConfig refuses service ports', () => {
  test.each<[string, unknown, string]>([
    ['HTTPS', 443, 'port 443 is HTTPS, already served by Caddy'],
    ['HTTP', 80, 'port 80 is HTTP, already served by Caddy'],
    ['SSH', 22, 'port 22 is SSH, already served by the server\'s sshd'],
    ['Caddy\'s admin API', 2019, 'port 2019 is Caddy\'s admin API, already served by Caddy'],
    ['a well-known port', 21, 'port 21 is FTP control, in the well-known range 0–1023'],
    ['an unnamed well-known port', 1000, 'port 1000 is in the well-known range 0–1023 (reserved for system protocols)'],
    ['a dynamic port', 50000, 'port 50000 is in the dynamic range 49152–65535'],
    ['past 65535', 65536, '65536 is not a TCP port'],
    ['negative', -1, '-1 is not a TCP port'],
    ['a float', 3000.5, '3000.5 is not a TCP port'],
    ['text in JSON', '3000', 'a port is a whole number 1024–49151'],
  ])('%s', (_title, port, rule) => {
    expectOneProblem({ services: { app: port } }, 'services.app', port, rule);
  });

  test.each<[string, string, string]>([
    ['hex', 'app:0x50', '0x50'],
    ['exponent', 'app:3e3', '3e3'],
    ['a decimal point', 'app:80.5', '80.5'],
    ['trailing letters', 'app:3000x', '3000x'],
    ['nothing', 'app:', ''],
  ])('written as %s in the -c form', (_title, text, value) => {
    expectOneProblem({ services: text }, 'services.app', value, 'a port is a whole number 1024–49151');
  });

  test('a port two services share names the holder and the free ports nearby', () => {
    expectOneProblem({ services: { startup: 3000, simon: 3000 } }, 'services.simon', 3000, 'port 3000 is already assigned to "startup"; free: 3001, 3002');
  });

  test('an entry without a port', () => {
    expectOneProblem({ services: 'simon' }, 'services', 'simon', 'each entry is name:port');
  });

  test('broken JSON', () => {
    expectOneProblem({ services: '{"simon":' }, 'services', '{"simon":', 'is not valid JSON');
  });
});

describe('loadConfig, other keys', () => {
  test('hostedZoneId without a domain', () => {
    expectOneProblem({ domain: undefined, routing: 'path', hostedZoneId: 'Z0123456789ABCDEFGHIJ' }, 'hostedZoneId', 'Z0123456789ABCDEFGHIJ', 'set -c domain=');
  });

  test('a malformed hostedZoneId', () => {
    expectOneProblem({ hostedZoneId: 'zone-1' }, 'hostedZoneId', 'zone-1', 'looks like Z0123456789ABCDEFGHIJ');
  });

  test('a malformed email', () => {
    expectOneProblem({ email: 'me-at-example' }, 'email', 'me-at-example', 'give the email address for the ACME account');
  });

  test('a malformed instance type', () => {
    expectOneProblem({ instanceType: 'T3.Micro' }, 'instanceType', 'T3.Micro', 'family.size');
  });

  test('a private key where the public key goes', () => {
    const key = `${FAKE_KEY_BEGIN}\nabc\n${FAKE_KEY_END}`;
    expectOneProblem({ sshPublicKey: key }, 'sshPublicKey', key, 'this is a PRIVATE key');
  });

  test('reports every problem at once, not just the first', () => {
    const keys = problemsOf({ schoolCidr: '0.0.0.0/0', domain: 'Example.click', services: { app: 443 } }).map((p) => p.key);
    expect(keys).toEqual(['schoolCidr', 'domain', 'services.app']);
  });
});

describe('subdomain routing without a domain', () => {
  test('falls back to path routing, with a warning that says how to choose', () => {
    const c = load({ domain: undefined, routing: 'subdomain' });
    expect(c.routing).toBe('path');
    expect(c.warnings).toEqual([expect.stringContaining('routing: "subdomain" needs a domain')]);
    expect(c.warnings[0]).toContain('-c routing=path to silence this');
  });

  test('says nothing when path routing was asked for', () => {
    expect(load({ domain: undefined, routing: 'path' }).warnings).toEqual([]);
  });
});

describe('parseContextFlags (the CLI\'s -c)', () => {
  test('reads key=value pairs, keeping "=" inside values', () => {
    expect(parseContextFlags(['domain=example.click', 'services={"a":3000}'])).toEqual({ domain: 'example.click', services: '{"a":3000}' });
  });

  test('refuses an unknown key, listing the known ones', () => {
    expect(() => parseContextFlags(['domian=example.click'])).toThrow('unknown context key "domian"; Portside reads schoolCidr, domain');
  });

  test('refuses a pair without "="', () => {
    expect(() => parseContextFlags(['domain'])).toThrow('-c domain: context is key=value');
  });
});
