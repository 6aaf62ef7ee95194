/**
 * The doctor's checks are pure functions of gathered facts: a healthy baseline, then one thing wrong
 * per test, asserting the exact line the user reads.
 */
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { CheckResult, DoctorFacts, formatReport, parseSs, readSecurityGroupRules, runChecks } from '../../lib/doctor';
import { renderCaddyfile } from '../../lib/caddy';
import { Registry, renderRegistry } from '../../lib/registry';
import { healthy, registry, SS } from '../support/doctor-facts';

// The healthy baseline is the one the family tests use (test/support/doctor-facts.ts).

const problems = (r: CheckResult[]) => r.filter((x) => x.status === 'fail' || x.status === 'warn');
const only = (f: DoctorFacts) => {
  const p = problems(runChecks(f));
  expect(p.length).toBeGreaterThan(0);
  for (const x of p) expect(x.fix).toBeTruthy();
  return p;
};
const byId = (r: CheckResult[], id: string) => r.find((x) => x.id === id);

describe('doctor checks on a healthy server', () => {
  test('every check passes, nothing to fix', () => {
    const results = runChecks(healthy());
    expect(problems(results)).toEqual([]);
    expect(results.filter((r) => r.status === 'pass').length).toBeGreaterThanOrEqual(25);
    expect(formatReport(results).at(-1)).toMatch(/^healthy: \d+ passed, 0 failed, 0 warnings/);
  });

  test('systemd-resolved on loopback 53 is the system\'s own, not a problem', () => {
    expect(byId(runChecks(healthy()), 'sockets.system.53')?.status).toBe('pass');
  });
});

describe('exposure from outside', () => {
  test('a service port that accepts connections from outside names the service and the fix', () => {
    const f = { ...healthy(), outside: healthy().outside.map((p) => (p.port === 3000 ? { ...p, outcome: 'open' as const } : p)) };
    expect(only(f)).toEqual([{
      id: 'exposure.leak.3000', status: 'fail',
      message: '203.0.113.7:3000 accepts connections from outside the server: service "simon" is reachable without going through Caddy',
      fix: 'redeploy it so it runs with Portside\'s preload, which binds it to 127.0.0.1: portside deploy-service simon --force',
    }]);
  });

  test('Caddy\'s admin API open from outside is a failure', () => {
    const f = { ...healthy(), outside: healthy().outside.map((p) => (p.port === 2019 ? { ...p, outcome: 'open' as const } : p)) };
    expect(only(f).map((r) => r.message)).toEqual(['203.0.113.7:2019 accepts connections from outside the server: Caddy (Caddy\'s admin API) is reachable without going through Caddy']);
  });

  test('443 refused from outside: the site cannot be reached', () => {
    const f = { ...healthy(), outside: healthy().outside.map((p) => (p.port === 443 ? { ...p, outcome: 'refused' as const } : p)) };
    expect(only(f)[0]).toMatchObject({ id: 'exposure.open.443', status: 'fail', message: '203.0.113.7:443 (HTTPS) is refused from outside: the site cannot be reached' });
  });
});

describe('listening sockets', () => {
  test('an unregistered process on a public address is named with its pid and a fix', () => {
    const f = healthy();
    const sockets = parseSs(`${SS}LISTEN 0 511 0.0.0.0:7777 0.0.0.0:* users:(("node",pid=4242,fd=18))\n`);
    const p = only({ ...f, sockets, outside: [...f.outside, { port: 7777, outcome: 'open' }] });
    expect(p.map((r) => r.id)).toEqual(['exposure.leak.7777', 'sockets.unregistered.7777']);
    expect(p[0].message).toBe('203.0.113.7:7777 accepts connections from outside the server: node (pid 4242), which nobody registered is reachable without going through Caddy');
    expect(p[1]).toEqual({
      id: 'sockets.unregistered.7777', status: 'fail', message: 'port 7777 listens on 0.0.0.0:7777 (node (pid 4242)) and no service is registered on it',
      fix: 'stop it (kill 4242), or deploy it as a service (portside deploy-service <name>) so it gets a loopback port behind Caddy',
    });
  });

  test('an unregistered loopback listener is a warning, not a failure', () => {
    const sockets = parseSs(`${SS}LISTEN 0 511 127.0.0.1:5432 0.0.0.0:* users:(("postgres",pid=55,fd=3))\n`);
    expect(only({ ...healthy(), sockets })).toEqual([expect.objectContaining({ id: 'sockets.unregistered.5432', status: 'warn', message: expect.stringContaining('postgres (pid 55)') })]);
  });

  test('a deploy\'s probe on a dynamic loopback port is only a note', () => {
    const sockets = parseSs(`${SS}LISTEN 0 511 127.0.0.1:51234 0.0.0.0:* users:(("node",pid=56,fd=3))\n`);
    expect(byId(runChecks({ ...healthy(), sockets }), 'sockets.transient.51234')?.status).toBe('info');
  });

  test('a registered service bound to all interfaces is a failure naming the service', () => {
    const sockets = parseSs(SS.replace('127.0.0.1:3000', '0.0.0.0:3000'));
    expect(only({ ...healthy(), sockets })).toEqual([expect.objectContaining({
      id: 'sockets.public.3000', status: 'fail',
      message: 'service "simon" listens on 0.0.0.0:3000 (PM2 v7.0.4: God (pid 1000)), not only on 127.0.0.1: it can be reached without Caddy',
    })]);
  });

  test('Caddy\'s admin API beyond loopback is a failure', () => {
    const sockets = parseSs(SS.replace('127.0.0.1:2019', '0.0.0.0:2019'));
    expect(only({ ...healthy(), sockets })[0].message).toMatch(/^Caddy's admin API listens on 0\.0\.0\.0:2019, beyond loopback/);
  });

  test('no Caddy on 443 is a failure; someone else on 80 is a failure', () => {
    const sockets = parseSs(SS.split('\n').filter((l) => !l.includes(':443 ')).join('\n').replace('"caddy",pid=900,fd=9', '"python3",pid=66,fd=3'));
    expect(only({ ...healthy(), sockets }).map((r) => r.message)).toEqual([
      'port 80 should be Caddy\'s but python3 (pid 66) holds it',
      'nothing listens on port 443 (Caddy, HTTPS)',
    ]);
  });

  test('Caddy holding several sockets on one address (leaked by a refused reload) is a failure', () => {
    const sockets = parseSs(`${SS}LISTEN 0 4096 *:443 *:* users:(("caddy",pid=900,fd=21))\n`);
    expect(only({ ...healthy(), sockets })).toEqual([expect.objectContaining({
      id: 'sockets.duplicate.443', status: 'fail',
      message: 'Caddy holds 2 listening sockets on *:443: a refused reload leaked them (Caddy 2.6.2), and new connections are spread across them, so most of them fail',
    })]);
  });

  test('ss output is parsed with IPv6, interface suffixes and hidden owners', () => {
    expect(parseSs('LISTEN 0 4096 [::1]:2019 [::]:*\nLISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:* users:(("systemd-resolve",pid=7,fd=1))')).toEqual([
      { address: '::1', port: 2019, processes: [], pids: [] },
      { address: '127.0.0.53', port: 53, processes: ['systemd-resolve'], pids: [7] },
    ]);
  });
});

describe('drift', () => {
  test('a hand-edited Caddyfile is named with the first differing line', () => {
    const caddyfile = renderCaddyfile(registry).replace('reverse_proxy 127.0.0.1:3000', 'reverse_proxy 127.0.0.1:3999');
    const [p] = only({ ...healthy(), caddyfile });
    expect(p.id).toBe('drift.caddyfile');
    expect(p.message).toMatch(/^the Caddyfile differs from what the registry renders, first at line \d+: expected "\\treverse_proxy 127\.0\.0\.1:3000 \{", found "\\treverse_proxy 127\.0\.0\.1:3999 \{"$/);
  });

  test('a stopped service is a failure with the command that starts it', () => {
    const f = healthy();
    const pm2 = (f.pm2 as any[]).map((p) => (p.name === 'simon' ? { ...p, status: 'stopped', pid: null } : p));
    const p = only({ ...f, pm2, direct: { ...f.direct, simon: 'ECONNREFUSED' }, viaCaddy: { ...f.viaCaddy, simon: 502 } });
    expect(p.map((r) => r.id)).toEqual(['drift.stopped.simon', 'health.direct.simon', 'health.caddy.simon']);
    expect(p[0]).toEqual({
      id: 'drift.stopped.simon', status: 'fail', message: 'service "simon" is stopped under pm2: its URL answers 502',
      fix: 'start it again on the server: pm2 restart simon && pm2 save (or portside deploy-service simon --force)',
    });
    expect(p[1].message).toBe('service "simon" does not answer GET / on 127.0.0.1:3000 inside the server (ECONNREFUSED)');
    expect(p[2].message).toBe('https://simon.example.click/ does not answer through Caddy (HTTP 502)');
  });

  test('a process without the preload, on the wrong port, and an unrouted one', () => {
    const f = healthy();
    const pm2 = [
      { name: 'simon', status: 'online', port: 3001, pid: 1, execMode: 'fork_mode', preload: false },
      (f.pm2 as any[])[1],
      { name: 'rogue', status: 'online', port: 5000, pid: 3, execMode: 'fork_mode', preload: false },
    ];
    expect(only({ ...f, pm2 }).map((r) => r.id)).toEqual(['drift.port.simon', 'drift.preload.simon', 'drift.unrouted.rogue']);
  });

  test('a registered service never deployed warns; one with a release but no process fails', () => {
    const f = healthy();
    const undeployed = only({ ...f, pm2: [(f.pm2 as any[])[1]], folders: [f.folders[1]] });
    expect(undeployed.map((r) => [r.id, r.status])).toEqual([['drift.undeployed.simon', 'warn']]);
    const lost = only({ ...f, pm2: [(f.pm2 as any[])[1]] });
    expect(lost[0]).toMatchObject({ id: 'drift.process.simon', status: 'fail', message: 'service "simon" has release r1 and a route, but pm2 runs no process for it' });
  });

  test('an unreadable registry stops the drift checks with one failure', () => {
    const p = only({ ...healthy(), registry: { error: 'it is not valid JSON' } });
    expect(p).toEqual([expect.objectContaining({ id: 'drift.registry', status: 'fail', message: 'the registry (~/.portside/registry.json) cannot be used: it is not valid JSON' })]);
  });

  test('declared vs registry: a warning on AWS, a note on the local server', () => {
    const reg = { ...registry, services: { simon: 3000 } };
    const f = { ...healthy(), registry: reg, caddyfile: renderCaddyfile(reg), pm2: [(healthy().pm2 as any[])[0]], folders: [healthy().folders[0]] };
    expect(byId(runChecks(f), 'drift.declared.startup')).toMatchObject({ status: 'warn', message: 'cdk.json declares "startup" on port 4000; the server\'s registry does not have it' });
    expect(byId(runChecks({ ...f, target: 'local' }), 'drift.declared.startup')?.status).toBe('info');
  });
});

describe('TLS, DNS, capacity', () => {
  test('an expired certificate fails; one near expiry warns', () => {
    const f = healthy();
    const certs = [
      { ...f.certificates[0], validTo: '2026-05-30T00:00:00Z' },
      { ...f.certificates[1], validTo: '2026-06-05T00:00:00Z' },
      f.certificates[2],
    ];
    expect(only({ ...f, certificates: certs }).map((r) => [r.status, r.message])).toEqual([
      ['fail', 'example.click: the certificate from R11 expired on 2026-05-30T00:00:00.000Z'],
      ['warn', 'simon.example.click: the certificate from R11 expires in 4 days and has not been renewed'],
    ]);
  });

  test('no domain: TLS and DNS are skipped with the reason', () => {
    const reg: Registry = { ...registry, domain: undefined, routing: 'path' };
    const r = runChecks({ ...healthy(), registry: reg, caddyfile: renderCaddyfile(reg), dns: { skipped: 'no domain: nothing to resolve' } });
    expect(byId(r, 'tls')).toMatchObject({ status: 'skip' });
    expect(byId(r, 'dns')).toMatchObject({ status: 'skip', message: 'no domain: nothing to resolve' });
  });

  test('a name that points elsewhere, or nowhere, fails with the record to create', () => {
    const dns = [{ name: 'example.click', addresses: ['198.51.100.1'] }, { name: 'simon.example.click', addresses: [], error: 'ENOTFOUND' }, { name: 'startup.example.click', addresses: ['203.0.113.7'] }];
    expect(only({ ...healthy(), dns })).toEqual([
      { id: 'dns.example.click', status: 'fail', message: 'example.click resolves to 198.51.100.1, not to the server (203.0.113.7)', fix: expect.stringContaining('A record example.click → 203.0.113.7') },
      { id: 'dns.simon.example.click', status: 'fail', message: 'simon.example.click does not resolve (ENOTFOUND)', fix: expect.stringContaining('A record simon.example.click → 203.0.113.7') },
    ]);
  });

  test('little disk or memory, and a tool missing from a non-interactive session', () => {
    const f = healthy();
    const p = only({ ...f, capacity: { diskFreeBytes: 100 * 2 ** 20, diskTotalBytes: 8 * 2 ** 30, memAvailableBytes: 200 * 2 ** 20, memTotalBytes: 2 ** 30 }, tools: { ...f.tools, pm2: null } });
    expect(p.map((r) => [r.id, r.status])).toEqual([['capacity.disk', 'fail'], ['capacity.memory', 'warn'], ['capacity.tool.pm2', 'fail']]);
    expect(p[0].message).toBe('100 MiB of 8192 MiB free on the deploy user\'s disk: a deploy needs room for a release and its node_modules');
  });
});

describe('the security group against the port model', () => {
  test('SSH open to the world is named as such', () => {
    const f = healthy();
    const sg = [...(f.securityGroup as any[]), { groupId: 'sg-1', protocol: 'tcp', fromPort: 22, toPort: 22, peer: '0.0.0.0/0' }];
    expect(only({ ...f, securityGroup: sg })).toEqual([expect.objectContaining({ status: 'fail', message: 'the security group allows tcp 22 from 0.0.0.0/0 (sg-1): SSH open to the whole internet' })]);
  });

  test('a service port, an all-traffic rule, and a missing 443', () => {
    const f = healthy();
    const sg = [
      ...(f.securityGroup as any[]).filter((r) => !(r.fromPort === 443 && r.peer === '::/0')),
      { groupId: 'sg-1', protocol: 'tcp', fromPort: 3000, toPort: 3000, peer: '0.0.0.0/0' },
      { groupId: 'sg-2', protocol: '-1', fromPort: null, toPort: null, peer: '10.0.0.0/8' },
    ];
    expect(only({ ...f, securityGroup: sg }).map((r) => r.message)).toEqual([
      'the security group allows tcp 3000 from 0.0.0.0/0 (sg-1): a port beyond 80 and 443 open to the world',
      'the security group allows all traffic from 10.0.0.0/8 (sg-2): SSH open beyond schoolCidr',
      'the security group lacks port 443 from anywhere (IPv6)',
    ]);
  });

  test('reads the instance\'s groups with DescribeInstances and DescribeSecurityGroups', async () => {
    const ec2 = new EC2Client({ region: 'us-west-2' });
    const mock = mockClient(ec2);
    mock.on(DescribeInstancesCommand, { InstanceIds: ['i-0abc'] }).resolves({ Reservations: [{ Instances: [{ SecurityGroups: [{ GroupId: 'sg-1' }] }] }] });
    mock.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-1'] }).resolves({
      SecurityGroups: [{
        GroupId: 'sg-1', IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
          { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-9' }] },
        ],
      }],
    });
    expect(await readSecurityGroupRules(ec2, 'i-0abc')).toEqual([
      { groupId: 'sg-1', protocol: 'tcp', fromPort: 80, toPort: 80, peer: '0.0.0.0/0' },
      { groupId: 'sg-1', protocol: 'tcp', fromPort: 80, toPort: 80, peer: '::/0' },
      { groupId: 'sg-1', protocol: '-1', fromPort: null, toPort: null, peer: 'sg-9' },
    ]);
  });
});

describe('the documented no-domain setup (plain HTTP on 80)', () => {
  const noDomain = (): DoctorFacts => {
    const reg: Registry = { ...registry, domain: undefined, routing: 'path' };
    const f = healthy();
    return {
      ...f, registry: reg, registryText: renderRegistry(reg), caddyfile: renderCaddyfile(reg),
      sockets: parseSs(SS.split('\n').filter((l) => !l.includes(':443')).join('\n')),
      outside: f.outside.map((p) => (p.port === 443 ? { ...p, outcome: 'refused' as const } : p)),
      certificates: [], dns: [],
    };
  };

  test('443 closed is what it should be: no failure, an info line with how to get HTTPS', () => {
    const results = runChecks(noDomain());
    expect(results.filter((r) => r.status === 'fail').map((r) => r.id)).toEqual([]);
    expect(byId(results, 'sockets.missing.443')).toMatchObject({ status: 'info', message: expect.stringMatching(/no domain yet/) });
    expect(byId(results, 'exposure.open.443')).toMatchObject({ status: 'info' });
  });

  test('with a domain, nothing on 443 is still a failure', () => {
    const f = healthy();
    const results = runChecks({ ...f, sockets: parseSs(SS.split('\n').filter((l) => !l.includes(':443')).join('\n')) });
    expect(byId(results, 'sockets.missing.443')?.status).toBe('fail');
  });
});

describe('health answers are reported as what they are', () => {
  test('a 404 at the health path is a warning that says "answers 404 at /", never a pass', () => {
    const f = { ...healthy(), direct: { simon: 404, startup: 200 }, viaCaddy: { simon: 404, startup: 200, '@site': 200 } };
    const p = only(f);
    expect(p.map((r) => [r.id, r.status])).toEqual([['health.direct.simon', 'warn'], ['health.caddy.simon', 'warn']]);
    expect(p[0].message).toBe('service "simon" runs but answers 404 at / on 127.0.0.1:3000: not a healthy answer');
    expect(p[0].fix).toMatch(/--health-path/);
  });

  test('a 502 is a failure', () => {
    const f = { ...healthy(), direct: { simon: 502, startup: 200 } };
    expect(byId(runChecks(f), 'health.direct.simon')?.status).toBe('fail');
  });
});
