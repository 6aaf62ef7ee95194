/**
 * The bad-input corpus, pure half: hostile or mistyped CDK context (loadConfig, as `cdk synth` and the
 * CLI read it) and the CLI's own parsers. Each row changes one field of a valid baseline and asserts
 * the exact problem: the key, the value received, and the rule with its fix. The server-facing half
 * (CLI arguments, service folders, env files, with a server snapshot before and after) is
 * test/e2e/bad-input.test.ts.
 */
import { ConfigError, ConfigProblem, loadConfig, parseContextFlags } from '../../lib/config';
import { parsePort } from '../../lib/ports';
import { parseHostPort } from '../../lib/targets/resolve-target';

// Not a key: the armour line alone, assembled so that no file in the repository looks like one.
const FAKE_KEY_BEGIN = ['-----BEGIN', 'OPENSSH PRIVATE KEY-----'].join(' ');

const BASE: Readonly<Record<string, unknown>> = {
  schoolCidr: '128.187.0.0/16', routing: 'subdomain', services: { simon: 3000 }, instanceType: 't3.micro', domain: 'example.click',
};

function problems(overrides: Record<string, unknown>): readonly ConfigProblem[] {
  const ctx = { ...BASE, ...overrides };
  let thrown: unknown;
  try {
    loadConfig((k) => ctx[k]);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return (thrown as ConfigError).problems;
}

const LABEL_RULE = 'a service name must be a DNS label: lowercase letters a–z, digits and inner hyphens, starting with a letter (e.g. "simon", "startup-2")';
const RESERVED_RULE = (n: string) => `"${n}" is reserved by the server (www, portside, caddy, pm2, localhost, releases, current); pick another name`;
const PORT_WORD = 'a port is a whole number 1024–49151, e.g. 3000';
const WORLD = 'this would open SSH to the whole internet; give your school\'s range, e.g. 128.187.0.0/16';
const NOT_CIDR = 'a CIDR is an address and a prefix length, e.g. 128.187.0.0/16 or 2001:db8::/32';
const LABEL = (l: string) => `"${l}" is not a valid label: letters a–z, digits and inner hyphens, 1–63 characters`;

type Row = [title: string, overrides: Record<string, unknown>, key: string, value: unknown, message: string];

const serviceNames: Row[] = [
  ['a name with ;', { services: { 'a;rm -rf ~': 3000 } }, 'services.a;rm -rf ~', 'a;rm -rf ~', LABEL_RULE],
  ['a name with $()', { services: { '$(id)': 3000 } }, 'services.$(id)', '$(id)', LABEL_RULE],
  ['a name with backticks', { services: { '`id`': 3000 } }, 'services.`id`', '`id`', LABEL_RULE],
  ['a name with a single quote', { services: { "o'neil": 3000 } }, "services.o'neil", "o'neil", LABEL_RULE],
  ['a name with a double quote', { services: { 'a"b': 3000 } }, 'services.a"b', 'a"b', LABEL_RULE],
  ['a name with a newline', { services: { 'simon\nx': 3000 } }, 'services.simon\nx', 'simon\nx', LABEL_RULE],
  ['a name that is ..', { services: { '..': 3000 } }, 'services...', '..', LABEL_RULE],
  ['a name with /', { services: { 'a/b': 3000 } }, 'services.a/b', 'a/b', LABEL_RULE],
  ['a Cyrillic look-alike (ѕ U+0455)', { services: { 'ѕimon': 3000 } }, 'services.ѕimon', 'ѕimon', LABEL_RULE],
  ['a full-width look-alike (ｓ U+FF53)', { services: { 'ｓimon': 3000 } }, 'services.ｓimon', 'ｓimon', LABEL_RULE],
  ['a 64-character name', { services: { ['a'.repeat(64)]: 3000 } }, `services.${'a'.repeat(64)}`, 'a'.repeat(64), 'a service name is a DNS label of at most 63 characters; this one has 64'],
  ['an uppercase name', { services: { Simon: 3000 } }, 'services.Simon', 'Simon', LABEL_RULE],
  ['a name starting with a digit', { services: { '1simon': 3000 } }, 'services.1simon', '1simon', LABEL_RULE],
  ['a name ending in -', { services: { 'simon-': 3000 } }, 'services.simon-', 'simon-', LABEL_RULE],
  ['a name with a space', { services: { 'my app': 3000 } }, 'services.my app', 'my app', LABEL_RULE],
  ['the reserved name www', { services: { www: 3000 } }, 'services.www', 'www', RESERVED_RULE('www')],
  ['the reserved name caddy', { services: { caddy: 3000 } }, 'services.caddy', 'caddy', RESERVED_RULE('caddy')],
  ['the reserved name current', { services: { current: 3000 } }, 'services.current', 'current', RESERVED_RULE('current')],
  ['an empty name in the -c form', { services: ':3001' }, 'services.', '', 'a service name is required, e.g. "simon"'],
];

const ports: Row[] = [
  ['a port as text', { services: { simon: 'three thousand' } }, 'services.simon', 'three thousand', PORT_WORD],
  ['a negative port', { services: 'simon:-1' }, 'services.simon', '-1', PORT_WORD],
  ['port 0', { services: { simon: 0 } }, 'services.simon', 0, 'port 0 is in the well-known range 0–1023 (reserved for system protocols); service ports are 1024–49151, e.g. 3000'],
  ['port 65536', { services: { simon: 65536 } }, 'services.simon', 65536, '65536 is not a TCP port (a whole number from 0 to 65535); service ports are 1024–49151'],
  ['a float port', { services: { simon: 3000.5 } }, 'services.simon', 3000.5, '3000.5 is not a TCP port (a whole number from 0 to 65535); service ports are 1024–49151'],
  ['a hex port', { services: 'simon:0xbb8' }, 'services.simon', '0xbb8', PORT_WORD],
  ['a port in exponent form', { services: 'simon:3e3' }, 'services.simon', '3e3', PORT_WORD],
  ['a port as a JSON string', { services: '{"simon":"3000"}' }, 'services.simon', '3000', PORT_WORD],
  ['reserved 22', { services: { simon: 22 } }, 'services.simon', 22, 'port 22 is SSH, already served by the server\'s sshd; pick a free port such as 3000'],
  ['reserved 80', { services: { simon: 80 } }, 'services.simon', 80, 'port 80 is HTTP, already served by Caddy; pick a free port such as 3000'],
  ['reserved 443', { services: { simon: 443 } }, 'services.simon', 443, 'port 443 is HTTPS, already served by Caddy; pick a free port such as 3000'],
  ['reserved 2019', { services: { simon: 2019 } }, 'services.simon', 2019, 'port 2019 is Caddy\'s admin API, already served by Caddy; pick a free port such as 3000'],
  ['well-known 25', { services: { simon: 25 } }, 'services.simon', 25, 'port 25 is SMTP, in the well-known range 0–1023 (a system protocol); service ports are 1024–49151, e.g. 3000'],
  ['dynamic 50000', { services: { simon: 50000 } }, 'services.simon', 50000, 'port 50000 is in the dynamic range 49152–65535 (left free for transient connections); service ports are 1024–49151, e.g. 3000'],
  ['a port already taken', { services: { simon: 3000, startup: 3000 } }, 'services.startup', 3000, 'port 3000 is already assigned to "simon"; free: 3001, 3002'],
  ['services as an array', { services: [3000] }, 'services', [3000], 'give an object {"simon":3000} or simon:3000,startup:4000'],
  ['services as broken JSON', { services: '{"simon":' }, 'services', '{"simon":', 'is not valid JSON; give {"simon":3000} or simon:3000,startup:4000'],
];

const cidrs: Row[] = [
  ['0.0.0.0/0', { schoolCidr: '0.0.0.0/0' }, 'schoolCidr', '0.0.0.0/0', WORLD],
  ['::/0', { schoolCidr: '::/0' }, 'schoolCidr', '::/0', WORLD],
  ['0.0.0.0/0 hidden in a list', { schoolCidr: '128.187.0.0/16,0.0.0.0/0' }, 'schoolCidr', '0.0.0.0/0', WORLD],
  ['1.2.3.4/33', { schoolCidr: '1.2.3.4/33' }, 'schoolCidr', '1.2.3.4/33', 'an IPv4 prefix length is 0–32, got /33'],
  ['2001:db8::/129', { schoolCidr: '2001:db8::/129' }, 'schoolCidr', '2001:db8::/129', 'an IPv6 prefix length is 0–128, got /129'],
  ['banana', { schoolCidr: 'banana' }, 'schoolCidr', 'banana', NOT_CIDR],
  ['an address without a prefix', { schoolCidr: '128.187.0.0' }, 'schoolCidr', '128.187.0.0', NOT_CIDR],
  ['host bits set', { schoolCidr: '128.187.1.1/16' }, 'schoolCidr', '128.187.1.1/16', 'host bits are set; the network is 128.187.0.0/16'],
  ['an octet of 256', { schoolCidr: '256.0.0.0/8' }, 'schoolCidr', '256.0.0.0/8', '"256.0.0.0" is not an IPv4 or IPv6 address; e.g. 128.187.0.0/16'],
  ['a leading zero (octal in some parsers)', { schoolCidr: '010.0.0.0/8' }, 'schoolCidr', '010.0.0.0/8', '"010.0.0.0" is not an IPv4 or IPv6 address; e.g. 128.187.0.0/16'],
  ['an empty list', { schoolCidr: [] }, 'schoolCidr', [], 'give one or more comma-separated CIDRs, e.g. 128.187.0.0/16'],
];

const domains: Row[] = [
  ['uppercase', { domain: 'Example.click' }, 'domain', 'Example.click', 'a domain must be lowercase: use "example.click"'],
  ['a trailing dot', { domain: 'example.click.' }, 'domain', 'example.click.', 'drop the trailing dot: use "example.click"'],
  ['an IPv4 address', { domain: '203.0.113.7' }, 'domain', '203.0.113.7', 'an IP address is not a domain: leave domain unset to serve plain HTTP on the IP, or give a name you own'],
  ['an IPv6 address', { domain: '2001:db8::1' }, 'domain', '2001:db8::1', 'an IP address is not a domain: leave domain unset to serve plain HTTP on the IP, or give a name you own'],
  ['a wildcard', { domain: '*.example.click' }, 'domain', '*.example.click', 'a wildcard is not a domain: give the apex, e.g. example.click; Portside adds one site per service'],
  ['a single label', { domain: 'localhost' }, 'domain', 'localhost', 'a domain needs at least two labels, e.g. example.click'],
  ['an underscore', { domain: 'my_site.click' }, 'domain', 'my_site.click', LABEL('my_site')],
  ['a 64-character label', { domain: `${'a'.repeat(64)}.click` }, 'domain', `${'a'.repeat(64)}.click`, LABEL('a'.repeat(64))],
  ['an all-digit last label', { domain: 'example.123' }, 'domain', 'example.123', 'the last label of a domain cannot be all digits'],
  ['a Cyrillic look-alike (а U+0430)', { domain: 'exаmple.click' }, 'domain', 'exаmple.click', LABEL('exаmple')],
  ['a shell metacharacter', { domain: 'example.click;reboot' }, 'domain', 'example.click;reboot', LABEL('click;reboot')],
  ['a number', { domain: 42 }, 'domain', 42, 'must be a string'],
];

const otherKeys: Row[] = [
  ['routing misspelled', { routing: 'subdomains' }, 'routing', 'subdomains', 'routing is "subdomain" (simon.<domain>) or "path" (<domain>/simon/); e.g. -c routing=path'],
  ['an email without a domain', { email: 'me@' }, 'email', 'me@', 'give the email address for the ACME account (certificate expiry notices), e.g. you@example.com'],
  ['an email with a quote', { email: "a'b@example.com" }, 'email', "a'b@example.com", 'give the email address for the ACME account (certificate expiry notices), e.g. you@example.com'],
  ['an instance type with a command', { instanceType: 't3.micro; rm' }, 'instanceType', 't3.micro; rm', 'an EC2 instance type looks like family.size, e.g. t3.micro or t4g.small'],
  ['a lowercase zone id', { hostedZoneId: 'z123' }, 'hostedZoneId', 'z123', 'a Route 53 hosted zone ID looks like Z0123456789ABCDEFGHIJ (see the Route 53 console)'],
  ['a public key whose blob is not a key of its type', { sshPublicKey: 'ssh-ed25519 not base64!' }, 'sshPublicKey', 'ssh-ed25519 not base64!', 'give an OpenSSH public key ("ssh-ed25519 AAAA… comment"), e.g. the contents of ~/.ssh/id_ed25519.pub'],
  ['a private key as the public key', { sshPublicKey: `${FAKE_KEY_BEGIN}\nabc` }, 'sshPublicKey', `${FAKE_KEY_BEGIN}\nabc`, 'this is a PRIVATE key: never share it; give the .pub file\'s contents instead'],
];

describe.each([
  ['service names', serviceNames], ['service ports', ports], ['schoolCidr', cidrs], ['domain', domains], ['other context keys', otherKeys],
] as const)('loadConfig refuses bad %s', (_group, rows) => {
  test.each(rows as Row[])('%s', (_title, overrides, key, value, message) => {
    expect(problems(overrides)).toEqual([{ key, value, message }]);
  });
});

describe('the CLI\'s own parsers', () => {
  test.each([
    [['domain'], '-c domain: context is key=value, e.g. -c domain=example.click'],
    [['foo=bar'], '-c foo=bar: unknown context key "foo"; Portside reads schoolCidr, domain, email, routing, services, instanceType, hostedZoneId, sshPublicKey'],
    [['__proto__=x'], '-c __proto__=x: unknown context key "__proto__"; Portside reads schoolCidr, domain, email, routing, services, instanceType, hostedZoneId, sshPublicKey'],
  ])('-c %j is refused', (pairs, message) => {
    expect(() => parseContextFlags(pairs)).toThrow(message);
  });

  test.each(['3000.0', '0x50', '3e3', ' 80', '80 ', '+80', '-1', '', '１２３', '123456'])('port %j is not a port number', (text) => {
    expect(parsePort(text)).toBeUndefined();
  });

  test.each(['host:0', 'host:65536', 'host:22;id', 'host:22:33', '[::1', 'host:port', '10.77.0.2;id', 'a b', '$(id)', '-oProxyCommand=x'])('--host %j is refused', (value) => {
    expect(() => parseHostPort(value)).toThrow(`--host: "${value}" is not an address; use host, host:port or [ipv6]:port (e.g. 203.0.113.7 or 10.0.0.5:2222)`);
  });
});
