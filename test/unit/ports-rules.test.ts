import {
  explainPort, ingressPorts, nextFreePort, parsePort, portTable, rangeOf, servicePortProblem, suggestFree,
} from '../../lib/ports';

describe('servicePortProblem', () => {
  test.each<[number, string]>([
    [443, 'port 443 is HTTPS, already served by Caddy; pick a free port such as 3000'],
    [80, 'port 80 is HTTP, already served by Caddy; pick a free port such as 3000'],
    [22, 'port 22 is SSH, already served by the server\'s sshd; pick a free port such as 3000'],
    [2019, 'port 2019 is Caddy\'s admin API, already served by Caddy; pick a free port such as 3000'],
    [25, 'port 25 is SMTP, in the well-known range 0–1023 (a system protocol); service ports are 1024–49151, e.g. 3000'],
    [999, 'port 999 is in the well-known range 0–1023 (reserved for system protocols); service ports are 1024–49151, e.g. 3000'],
    [49152, 'port 49152 is in the dynamic range 49152–65535 (left free for transient connections); service ports are 1024–49151, e.g. 3000'],
    [70000, '70000 is not a TCP port (a whole number from 0 to 65535); service ports are 1024–49151'],
    [3000.5, '3000.5 is not a TCP port (a whole number from 0 to 65535); service ports are 1024–49151'],
  ])('port %d: %s', (port, message) => {
    expect(servicePortProblem(port)).toBe(message);
  });

  test('names the service that holds a port and the free ports after it', () => {
    expect(servicePortProblem(3000, { startup: 3000 })).toBe('port 3000 is already assigned to "startup"; free: 3001, 3002');
  });

  test('skips taken ports when suggesting', () => {
    expect(servicePortProblem(3000, { startup: 3000, simon: 3001 })).toBe('port 3000 is already assigned to "startup"; free: 3002, 3003');
  });

  test('suggests a free port that is not taken when the suggestion would collide', () => {
    expect(servicePortProblem(443, { simon: 3000 })).toBe('port 443 is HTTPS, already served by Caddy; pick a free port such as 3001');
  });

  test('lets a service keep its own port', () => {
    expect(servicePortProblem(3000, { simon: 3000 }, 'simon')).toBeUndefined();
  });

  test.each([1024, 3000, 8080, 49151])('accepts %d', (port) => {
    expect(servicePortProblem(port, { simon: 3001 })).toBeUndefined();
  });
});

describe('the port model', () => {
  test('faces the world on 80 and 443 and the school on 22 only', () => {
    expect(ingressPorts('world')).toEqual([80, 443]);
    expect(ingressPorts('school')).toEqual([22]);
  });

  test('lists every port the server holds, services as device-only', () => {
    expect(portTable({ simon: 3000 }).map((r) => `${r.port} ${r.exposure} ${r.holder}`)).toEqual([
      '22 school sshd', '80 world Caddy', '443 world Caddy', '2019 device Caddy', '3000 device service "simon"',
    ]);
  });

  test('classifies ranges at their edges', () => {
    expect([0, 1023, 1024, 49151, 49152, 65535].map((p) => rangeOf(p)?.name))
      .toEqual(['well-known', 'well-known', 'registered', 'registered', 'dynamic', 'dynamic']);
    expect(rangeOf(65536)).toBeUndefined();
  });

  test('explains a port a service holds', () => {
    expect(explainPort(3000, { simon: 3000 })).toBe([
      'port 3000: registered range 1024–49151 (registered ports; service ports live here)',
      'held by: service "simon"',
      'exposure: device — reachable only from the server itself; Caddy is its only way in',
    ].join('\n'));
  });

  test('explains the admin API as loopback-only', () => {
    expect(explainPort(2019, {})).toContain('held by: Caddy (Caddy\'s admin API), bound to 127.0.0.1 only');
  });
});

describe('allocation', () => {
  test('the next free port starts at 3000 and skips taken ones', () => {
    expect(nextFreePort({})).toBe(3000);
    expect(nextFreePort({ a: 3000, b: 3001 })).toBe(3002);
  });

  test('suggestions wrap within the registered range', () => {
    expect(suggestFree({}, 2, 49151)).toEqual([49151, 1024]);
  });
});

describe('parsePort (text typed by a person)', () => {
  test.each(['3000', '80', '0', '65535'])('reads %j', (text) => {
    expect(parsePort(text)).toBe(Number(text));
  });

  test.each(['0x50', '3e3', '80.5', ' 80', '80 ', '-1', '', 'eighty', '123456'])('refuses %j', (text) => {
    expect(parsePort(text)).toBeUndefined();
  });
});
