/**
 * The tls family (lib/doctor/checks/tls.ts): each certificate as Caddy serves it. Less than a fifth
 * of its lifetime left means renewals are failing. Facts in, checks out; no server.
 */
import { renderCaddyfile } from '../../lib/caddy';
import { tlsFamily } from '../../lib/doctor/checks/tls';
import type { Registry } from '../../lib/registry';
import type { SiteCertificate } from '../../lib/doctor';
import { healthy, noDomain, registry, run } from '../support/doctor-facts';

const certs = (certificates: SiteCertificate[], reg: Registry = registry) => run(tlsFamily, { ...healthy(), registry: reg, caddyfile: renderCaddyfile(reg), certificates });

describe('tls', () => {
  test('a healthy server: each name\'s certificate with its issuer and days left', () => {
    expect(run(tlsFamily, healthy()).map((r) => [r.id, r.status, r.message])).toEqual([
      ['tls.example.click', 'pass', 'example.click: certificate from R11 valid for 59 days more'],
      ['tls.simon.example.click', 'pass', 'simon.example.click: certificate from R11 valid for 59 days more'],
      ['tls.startup.example.click', 'pass', 'startup.example.click: certificate from R11 valid for 59 days more'],
    ]);
  });

  test('no domain: skipped, with why', () => {
    expect(run(tlsFamily, noDomain())).toEqual([{ id: 'tls', status: 'skip', message: 'no domain: the server serves plain HTTP on its address, there is no certificate' }]);
  });

  test('ACME: none presented and expired both fail, and the fix points at DNS and the open ports', () => {
    const r = certs([{ host: 'x' }, { host: 'y', validTo: '2026-05-01T00:00:00Z', issuer: 'Z' }]);
    expect(r.map((x) => x.message)).toEqual(['x: no certificate could be read (none presented)', 'y: the certificate from Z expired on 2026-05-01T00:00:00.000Z']);
    expect(r[0].fix).toBe('read Caddy\'s log (journalctl -u caddy) for ACME errors; check that x points at 203.0.113.7 (the DNS check) and that port 80 and 443 are open to the world');
  });

  test('a 90-day certificate with 19 days left passes; with 4 days left it warns', () => {
    expect(certs([{ host: 'z', validFrom: '2026-03-20T00:00:00Z', validTo: '2026-06-20T00:00:00Z' }])[0]).toMatchObject({ status: 'pass', message: 'z: certificate valid for 19 days more' });
    expect(certs([{ host: 'z', validFrom: '2026-03-07T00:00:00Z', validTo: '2026-06-05T00:00:00Z' }])[0]).toMatchObject({ status: 'warn', message: 'z: the certificate expires in 4 days and has not been renewed' });
  });

  test('internal CA: 12-hour certificates measured in hours, and the fix is restarting Caddy', () => {
    const internal = { ...registry, tls: 'internal' } as Registry;
    const r = certs([
      { host: 'a', validFrom: '2026-05-31T17:00:00Z', validTo: '2026-06-01T05:00:00Z' },
      { host: 'b', validFrom: '2026-05-31T13:00:00Z', validTo: '2026-06-01T01:00:00Z' },
      { host: 'c', error: 'timeout' },
    ], internal);
    expect(r.map((x) => [x.status, x.message])).toEqual([
      ['pass', 'a: certificate valid for 5 hours more'],
      ['warn', 'b: the certificate expires in 1 hours and has not been renewed'],
      ['fail', 'c: no certificate could be read (timeout)'],
    ]);
    expect(r[2].fix).toBe('read Caddy\'s log; restarting Caddy re-issues internal certificates');
  });

  test('an unusable registry: nothing reported', () => {
    expect(run(tlsFamily, { ...healthy(), registry: { error: 'x' } })).toEqual([]);
  });
});
