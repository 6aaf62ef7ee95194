/**
 * The health family (lib/doctor/checks/health.ts): each deployed service answers its health path on
 * loopback and its URL through Caddy; the site answers at the root. Facts in, checks out; no server.
 */
import { healthFamily, SITE_KEY } from '../../lib/doctor/checks/health';
import type { DoctorFacts } from '../../lib/doctor';
import { byId, healthy, noDomain, run, statuses } from '../support/doctor-facts';

const answers = (direct: DoctorFacts['direct'], viaCaddy: DoctorFacts['viaCaddy']) => run(healthFamily, { ...healthy(), direct, viaCaddy });

describe('health', () => {
  test('a healthy server: each service directly and through Caddy, then the site', () => {
    const r = run(healthFamily, healthy());
    expect(statuses(r)).toEqual({
      'health.direct.simon': 'pass', 'health.caddy.simon': 'pass', 'health.direct.startup': 'pass', 'health.caddy.startup': 'pass', 'health.site': 'pass',
    });
    expect(byId(r, 'health.direct.startup')?.message).toBe('service "startup" answers GET /api/health on 127.0.0.1:4000 inside the server (HTTP 200)');
    expect(byId(r, 'health.caddy.simon')?.message).toBe('https://simon.example.click/ answers through Caddy (HTTP 200)');
  });

  test('without a domain the URLs are the address and a path per service', () => {
    expect(run(healthFamily, noDomain()).map((r) => r.message)).toContain('http://203.0.113.7/startup/ answers through Caddy (HTTP 200)');
  });

  test('a registered service with neither release nor process is skipped', () => {
    expect(byId(run(healthFamily, { ...healthy(), pm2: [], folders: [] }), 'health.simon')).toEqual({
      id: 'health.simon', status: 'skip', message: 'service "simon" is not deployed: no health to check',
    });
  });

  test('a service that refuses: a failure that names its logs, and through Caddy "fix the service first"', () => {
    const r = answers({ simon: 200, startup: 'ECONNREFUSED' }, { simon: 200, [SITE_KEY]: 200 });
    expect(byId(r, 'health.direct.startup')).toEqual({
      id: 'health.direct.startup', status: 'fail', message: 'service "startup" does not answer GET /api/health on 127.0.0.1:4000 inside the server (ECONNREFUSED)',
      fix: 'read its logs: portside logs startup; then redeploy (portside deploy-service startup --force) or roll back (portside rollback startup)',
    });
    expect(byId(r, 'health.caddy.startup')).toMatchObject({ status: 'fail', message: 'https://startup.example.click/ does not answer through Caddy (not checked)', fix: 'fix the service first (portside logs startup)' });
  });

  test('fine directly but not through Caddy: the route is what to look at', () => {
    const r = answers({ simon: 200, startup: 301 }, { simon: 'ETIMEDOUT', startup: 404, [SITE_KEY]: 200 });
    expect(byId(r, 'health.direct.startup')?.status).toBe('pass');
    expect(byId(r, 'health.caddy.simon')?.fix).toBe('the service is fine but the route is not: compare the Caddyfile with the registry (see the drift checks) and read Caddy\'s log');
    expect(byId(r, 'health.caddy.startup')).toMatchObject({ status: 'warn', fix: 'the service answers directly but not through its route: compare the Caddyfile with the registry (see the drift checks)' });
  });

  test('a 4xx through Caddy when the service also answers 4xx: the health path is the fix', () => {
    expect(byId(answers({ simon: 404, startup: 200 }, { simon: 404, startup: 200, [SITE_KEY]: 200 }), 'health.caddy.simon')).toEqual({
      id: 'health.caddy.simon', status: 'warn', message: 'https://simon.example.click/ answers 404 at / through Caddy: the service runs, but that is not a healthy answer',
      fix: 'if / is not a page of this service, give it one that answers 200: portside deploy-service simon --health-path /health',
    });
  });

  test('the site answering 500 is a failure naming deploy-files', () => {
    expect(byId(answers({ simon: 200, startup: 200 }, { simon: 200, startup: 200, [SITE_KEY]: 500 }), 'health.site')).toEqual({
      id: 'health.site', status: 'fail', message: 'https://example.click/ does not answer through Caddy (HTTP 500)', fix: 'read Caddy\'s log; redeploy the site with portside deploy-files <folder>',
    });
  });

  test('an unusable registry: nothing to probe, nothing reported', () => {
    expect(run(healthFamily, { ...healthy(), registry: { error: 'bad json' } })).toEqual([]);
  });
});
