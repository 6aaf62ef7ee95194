/**
 * The exposure family (lib/doctor/checks/exposure.ts): connection attempts from outside the server.
 * Only the outward ports of the model may accept one. Facts in, checks out; no server.
 */
import { exposureFamily } from '../../lib/doctor/checks/exposure';
import { ADDRESS, byId, healthy, noDomain, outsideSees, problems, run, ss, statuses } from '../support/doctor-facts';

describe('exposure: the outward ports', () => {
  test('a healthy server: 22, 80 and 443 open, and every other probed port closed, listed', () => {
    const r = run(exposureFamily, healthy());
    expect(statuses(r)).toEqual({ 'exposure.open.22': 'pass', 'exposure.open.80': 'pass', 'exposure.open.443': 'pass', 'exposure.closed': 'pass' });
    expect(byId(r, 'exposure.closed')?.message).toBe('from outside, every other port is closed: 53 refused, 2019 filtered, 3000 filtered, 4000 filtered');
  });

  test('SSH closed from here is only a warning: it faces the school\'s network, not everyone', () => {
    expect(byId(run(exposureFamily, outsideSees(healthy(), 22, 'refused')), 'exposure.open.22')).toEqual({
      id: 'exposure.open.22', status: 'warn', message: `${ADDRESS}:22 (SSH) is refused from here`,
      fix: 'SSH is open only to schoolCidr: run doctor from inside that network, or check that sshd is running',
    });
  });

  test('HTTP filtered is a failure: the site cannot be reached, check Caddy and the security group', () => {
    expect(byId(run(exposureFamily, outsideSees(healthy(), 80, 'filtered')), 'exposure.open.80')).toEqual({
      id: 'exposure.open.80', status: 'fail', message: `${ADDRESS}:80 (HTTP) is filtered from outside: the site cannot be reached`,
      fix: 'check that Caddy is running (systemctl status caddy) and that the security group allows 80 and 443 from anywhere',
    });
  });

  test('without a domain, 443 closed is a note, not a failure', () => {
    expect(byId(run(exposureFamily, noDomain()), 'exposure.open.443')).toEqual({
      id: 'exposure.open.443', status: 'info', message: `${ADDRESS}:443 is refused: without a domain the server serves plain HTTP on 80 only`,
      fix: 'set a domain to get HTTPS (see docs/aws.md)',
    });
  });

  test('a port never probed is not reported', () => {
    expect(run(exposureFamily, { ...healthy(), outside: [] })).toEqual([]);
  });
});

describe('exposure: every other port is a leak when it opens', () => {
  test('the admin API open from outside names Caddy and says which ports may face outside', () => {
    expect(problems(run(exposureFamily, outsideSees(healthy(), 2019, 'open')))).toEqual([{
      id: 'exposure.leak.2019', status: 'fail',
      message: `${ADDRESS}:2019 accepts connections from outside the server: Caddy (Caddy's admin API) is reachable without going through Caddy`,
      fix: 'stop that process, or bind it to 127.0.0.1; only 22, 80 and 443 may face outside',
    }]);
  });

  test('a service\'s port open from outside names the service and the redeploy that binds it to loopback', () => {
    expect(byId(run(exposureFamily, outsideSees(healthy(), 4000, 'open')), 'exposure.leak.4000')?.fix)
      .toBe('redeploy it so it runs with Portside\'s preload, which binds it to 127.0.0.1: portside deploy-service startup --force');
  });

  test('a stranger is named by its process when ss saw one, else as nobody\'s', () => {
    const seen = { ...outsideSees(healthy(), 7777, 'open'), sockets: ss(['LISTEN 0 511 0.0.0.0:7777 0.0.0.0:* users:(("node",pid=4242,fd=18))']) };
    expect(byId(run(exposureFamily, seen), 'exposure.leak.7777')?.message).toContain('node (pid 4242), which nobody registered is reachable');
    expect(byId(run(exposureFamily, outsideSees(healthy(), 7777, 'open')), 'exposure.leak.7777')?.message).toContain('a process nobody registered is reachable');
  });

  test('a leak replaces the "every other port is closed" pass', () => {
    expect(byId(run(exposureFamily, outsideSees(healthy(), 3000, 'open')), 'exposure.closed')).toBeUndefined();
  });
});
