/**
 * The sockets family (lib/doctor/checks/sockets.ts): what `ss -ltnp` shows on the server, judged
 * against the port model. Facts in, checks out; no server.
 */
import { socketsFamily } from '../../lib/doctor/checks/sockets';
import { CADDY_ADMIN_PORT, PROBE_PORT_MIN, SERVER_PORTS } from '../../lib/remote/layout';
import { byId, healthy, noDomain, problems, run, ss, statuses } from '../support/doctor-facts';

const withListener = (line: string) => run(socketsFamily, { ...healthy(), sockets: ss([line]) });

describe('sockets: the server\'s own ports', () => {
  test('a healthy server: one pass per server port, the system resolver and each service on loopback', () => {
    expect(statuses(run(socketsFamily, healthy()))).toEqual({
      'sockets.ok.22': 'pass', 'sockets.ok.80': 'pass', 'sockets.ok.443': 'pass', 'sockets.ok.2019': 'pass',
      'sockets.system.53': 'pass', 'sockets.ok.3000': 'pass', 'sockets.ok.4000': 'pass',
    });
    expect(byId(run(socketsFamily, healthy()), 'sockets.ok.22')?.message).toBe('sshd listens on 0.0.0.0:22, [::]:22 (SSH)');
  });

  test('every port of the server map is checked, in its order, before any other port', () => {
    const ids = run(socketsFamily, healthy()).map((r) => r.id);
    expect(ids.slice(0, SERVER_PORTS.length)).toEqual(SERVER_PORTS.map((p) => `sockets.ok.${p}`));
  });

  test('nothing on the admin API port is a warning; nothing on 22 is a failure that says start sshd', () => {
    const admin = run(socketsFamily, { ...healthy(), sockets: ss([], `:${CADDY_ADMIN_PORT} `) });
    expect(byId(admin, `sockets.missing.${CADDY_ADMIN_PORT}`)).toEqual({
      id: 'sockets.missing.2019', status: 'warn', message: 'nothing listens on port 2019 (Caddy, Caddy\'s admin API)',
      fix: 'start Caddy: sudo systemctl restart caddy (and read journalctl -u caddy)',
    });
    const ssh = run(socketsFamily, { ...healthy(), sockets: ss([], ':22 ') });
    expect(byId(ssh, 'sockets.missing.22')).toMatchObject({ status: 'fail', fix: 'start sshd' });
  });

  test('without a domain, nothing on 443 is a note with how to get HTTPS; with one it is a failure', () => {
    expect(byId(run(socketsFamily, noDomain()), 'sockets.missing.443')).toEqual({
      id: 'sockets.missing.443', status: 'info', message: 'nothing listens on 443: the server has no domain yet, so Caddy serves plain HTTP on 80 (as documented)',
      fix: 'set a domain (cdk.json "domain", then portside sync-config) to get HTTPS on 443',
    });
    expect(byId(run(socketsFamily, { ...healthy(), sockets: ss([], ':443') }), 'sockets.missing.443')?.status).toBe('fail');
  });

  test('another program on sshd\'s port is named with its pid', () => {
    const f = { ...healthy(), sockets: ss().map((s) => (s.port === 22 ? { ...s, processes: ['dropbear'], pids: [66] } : s)) };
    expect(byId(run(socketsFamily, f), 'sockets.holder.22')).toEqual({
      id: 'sockets.holder.22', status: 'fail', message: 'port 22 should be sshd\'s but dropbear (pid 66) holds it', fix: 'stop that process and restart sshd',
    });
  });

  test('a leaked duplicate listener names the service to restart (ssh for sshd, caddy for Caddy)', () => {
    expect(byId(withListener('LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=801,fd=9))'), 'sockets.duplicate.22')?.fix)
      .toBe('restart sshd (sudo systemctl restart ssh); a reload cannot close leaked listeners');
    expect(byId(withListener('LISTEN 0 4096 *:80 *:* users:(("caddy",pid=900,fd=30))'), 'sockets.duplicate.80')?.fix)
      .toBe('restart Caddy (sudo systemctl restart caddy); a reload cannot close leaked listeners');
  });

  test('the admin API beyond loopback is a failure whose fix binds it to localhost on its port', () => {
    const f = { ...healthy(), sockets: ss(['LISTEN 0 4096 0.0.0.0:2019 0.0.0.0:* users:(("caddy",pid=900,fd=3))'], '127.0.0.1:2019') };
    expect(byId(run(socketsFamily, f), 'sockets.public.2019')).toEqual({
      id: 'sockets.public.2019', status: 'fail',
      message: 'Caddy\'s admin API listens on 0.0.0.0:2019, beyond loopback: whoever reaches it can rewrite Caddy\'s configuration',
      fix: 'bind it to loopback: `admin localhost:2019` in the Caddyfile\'s global options (Caddy\'s default)',
    });
  });
});

describe('sockets: every other port', () => {
  test('a process this user cannot see on a public address: a failure without a kill command', () => {
    expect(problems(withListener('LISTEN 0 511 0.0.0.0:7778 0.0.0.0:*'))).toEqual([{
      id: 'sockets.unregistered.7778', status: 'fail', message: 'port 7778 listens on 0.0.0.0:7778 (a process this user cannot see) and no service is registered on it',
      fix: 'stop it, or deploy it as a service (portside deploy-service <name>) so it gets a loopback port behind Caddy',
    }]);
  });

  test('a pm2 process on a loopback port nobody routes to is a note pointing at drift', () => {
    const f = healthy();
    const pm2 = [...(f.pm2 as any[]), { name: 'rogue', status: 'online', port: 5000, pid: 3, execMode: 'fork_mode', preload: true }];
    const r = run(socketsFamily, { ...f, pm2, sockets: ss(['LISTEN 0 511 127.0.0.1:5000 0.0.0.0:* users:(("node",pid=57,fd=3))']) });
    expect(byId(r, 'sockets.pm2.5000')).toEqual({
      id: 'sockets.pm2.5000', status: 'info', message: 'pm2 process "rogue" listens on loopback port 5000, which the registry does not route to (see drift)',
    });
  });

  test('node on a loopback port of the dynamic range is a probe in progress; just below it, a stranger', () => {
    const probe = withListener(`LISTEN 0 511 127.0.0.1:${PROBE_PORT_MIN} 0.0.0.0:* users:(("node",pid=56,fd=3))`);
    expect(byId(probe, `sockets.transient.${PROBE_PORT_MIN}`)).toEqual({
      id: 'sockets.transient.49152', status: 'info', message: 'node (pid 56) listens on loopback port 49152 (dynamic range): most likely a deploy\'s health probe in progress',
    });
    const below = withListener(`LISTEN 0 511 127.0.0.1:${PROBE_PORT_MIN - 1} 0.0.0.0:* users:(("node",pid=56,fd=3))`);
    expect(byId(below, `sockets.unregistered.${PROBE_PORT_MIN - 1}`)?.status).toBe('warn');
  });

  test('something other than node in the dynamic range is not taken for a probe', () => {
    expect(byId(withListener('LISTEN 0 511 127.0.0.1:60000 0.0.0.0:* users:(("python",pid=56,fd=3))'), 'sockets.unregistered.60000')).toMatchObject({
      status: 'warn', message: 'port 60000 is held by python (pid 56) on 127.0.0.1:60000 (loopback only), and no service is registered on it',
    });
  });

  test('the resolver is the system\'s own only when it is the resolver', () => {
    const hidden = { ...healthy(), sockets: ss([], ':53 ').concat([{ address: '127.0.0.53', port: 53, processes: [], pids: [] }]) };
    expect(byId(run(socketsFamily, hidden), 'sockets.unregistered.53')?.status).toBe('warn');
    const other = { ...healthy(), sockets: ss([], ':53 ').concat([{ address: '127.0.0.1', port: 53, processes: ['dnsmasq'], pids: [9] }]) };
    expect(byId(run(socketsFamily, other), 'sockets.unregistered.53')?.status).toBe('warn');
  });

  test('unreadable sockets: one failure that names the package providing ss', () => {
    expect(run(socketsFamily, { ...healthy(), sockets: { error: 'ss -ltnp failed' } })).toEqual([{
      id: 'sockets.read', status: 'fail', message: 'could not list the listening sockets: ss -ltnp failed', fix: 'install iproute2 on the server (it provides ss)',
    }]);
  });
});
