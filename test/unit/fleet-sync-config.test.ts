import { mergeDeclared } from '../../lib/deploy/sync-config';
import { Registry } from '../../lib/registry';

const base: Registry = {
  version: 1, domain: 'fleet.example.org', routing: 'subdomain', tls: 'acme', services: { simon: 3000 },
  paths: { www: '/var/www/portside', caddyfile: '/etc/portside/Caddyfile' },
};
const behindLb = { trustedProxies: ['10.80.0.0/24'] };

describe('sync-config on a fleet server', () => {
  test('keeps the live registry\'s load balancer when the declared configuration has none', () => {
    expect(mergeDeclared({ ...base, loadBalancer: behindLb }, base).merged.loadBalancer).toEqual(behindLb);
  });
  test('takes the declared load balancer when it has one', () => {
    const declared = { ...base, loadBalancer: { trustedProxies: ['10.90.0.0/24'] } };
    expect(mergeDeclared({ ...base, loadBalancer: behindLb }, declared).merged.loadBalancer).toEqual({ trustedProxies: ['10.90.0.0/24'] });
  });
  test('a single server gets no load balancer field (its registry stays as it was)', () => {
    expect('loadBalancer' in mergeDeclared(base, base).merged).toBe(false);
  });
});
