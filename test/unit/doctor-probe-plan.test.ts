/**
 * What doctor asks of the network and the server (lib/doctor/probe-plan.ts), decided from what it
 * read: which ports to try from outside, which names Caddy serves, what to GET on loopback.
 */
import { portsToProbe, probeRequest, servedNames } from '../../lib/doctor/probe-plan';
import type { Pm2Process } from '../../lib/doctor';
import { SITE_KEY } from '../../lib/doctor/checks';
import { SERVER_PORTS } from '../../lib/remote/layout';
import type { Registry } from '../../lib/registry';
import { ADDRESS, healthy, registry, ss } from '../support/doctor-facts';

const pm2 = (): Pm2Process[] => healthy().pm2 as Pm2Process[];

describe('ports to try from outside', () => {
  test('the server map\'s ports even when nothing else is known', () => {
    expect(portsToProbe({}, [], [])).toEqual([...SERVER_PORTS].sort((a, b) => a - b));
  });

  test('plus every registered port, every pm2 port and every listening port, once each, ascending', () => {
    const procs = [...pm2(), { name: 'x', status: 'online', port: 5000, pid: 1, execMode: 'fork_mode', preload: true }, { name: 'y', status: 'stopped', port: null, pid: null, execMode: 'fork_mode', preload: true }];
    expect(portsToProbe({ simon: 3000, gone: 6000 }, procs, ss(['LISTEN 0 5 127.0.0.1:7777 0.0.0.0:*']))).toEqual([22, 53, 80, 443, 2019, 3000, 4000, 5000, 6000, 7777]);
  });
});

describe('names Caddy serves', () => {
  test('subdomain routing: the domain and one name per service, sorted', () => {
    expect(servedNames({ ...registry, services: { zed: 3001, alpha: 3002 } })).toEqual(['example.click', 'alpha.example.click', 'zed.example.click']);
  });

  test('path routing: only the domain; no domain: none', () => {
    expect(servedNames({ ...registry, routing: 'path' })).toEqual(['example.click']);
    expect(servedNames({ ...registry, domain: undefined, routing: 'path' })).toEqual([]);
  });
});

describe('the probe request', () => {
  test('deployed services at their health paths and URLs, the site last, and the served names', () => {
    const f = healthy();
    expect(probeRequest(registry, f.folders, pm2(), ADDRESS)).toEqual({
      direct: [{ name: 'simon', port: 3000, path: '/' }, { name: 'startup', port: 4000, path: '/api/health' }],
      viaCaddy: [
        { name: 'simon', url: 'https://simon.example.click/' }, { name: 'startup', url: 'https://startup.example.click/' },
        { name: SITE_KEY, url: 'https://example.click/' },
      ],
      certificates: ['example.click', 'simon.example.click', 'startup.example.click'],
    });
  });

  test('a service with neither release nor process is not probed; one with only a process is, at /', () => {
    const reg: Registry = { ...registry, domain: undefined, routing: 'path' };
    const r = probeRequest(reg, [{ name: 'simon', release: null, healthPath: '/' }], [pm2()[1]], ADDRESS);
    expect(r.direct).toEqual([{ name: 'startup', port: 4000, path: '/' }]);
    expect(r.viaCaddy).toEqual([{ name: 'startup', url: `http://${ADDRESS}/startup/` }, { name: SITE_KEY, url: `http://${ADDRESS}/` }]);
    expect(r.certificates).toEqual([]);
  });
});
