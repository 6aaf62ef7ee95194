/**
 * A fleet server's lost registry, rebuilt from its live Caddyfile (lib/agent/registry-rebuild.ts), keeps
 * `loadBalancer`: without it the next Caddyfile would serve HTTPS itself behind a load balancer that sends
 * plain HTTP, and the :80 health site would be kept as a hand-written block (a duplicate site on render).
 */
import { renderCaddyfile } from '../../lib/caddy';
import { rebuildRegistry } from '../../lib/agent/registry-rebuild';
import { Registry } from '../../lib/registry';

const PATHS = { www: '/var/lib/portside-fleet/s1/www', caddyfile: '/var/lib/portside-fleet/s1/etc/Caddyfile' };
const FLEET: Registry = {
  version: 1, domain: 'fleet.portside.test', routing: 'subdomain', tls: 'internal', services: { simon: 3000, startup: 4000 },
  paths: PATHS, loadBalancer: { trustedProxies: ['10.77.1.2/32'] },
};
const live = (r: Registry, extra = '') => ({ path: PATHS.caddyfile, text: renderCaddyfile(r) + extra });
const rebuilt = (r: Registry, declared: Registry | null = null, extra = '') =>
  rebuildRegistry({ history: [], caddyfile: live(r, extra), releases: [], processes: [], declared });

describe('rebuilding a fleet server\'s registry from its Caddyfile', () => {
  test('subdomain routing: exactly the registry it was rendered from, loadBalancer included', () => {
    expect(rebuilt(FLEET).registry).toEqual(FLEET);
  });

  test('path routing without a domain: the same', () => {
    const reg: Registry = { version: 1, routing: 'path', tls: 'acme', services: { simon: 3000 }, paths: PATHS, loadBalancer: { trustedProxies: ['10.80.0.0/16', '10.81.0.0/16'] } };
    expect(rebuilt(reg).registry).toEqual(reg);
  });

  test('its next Caddyfile is the same text (plain HTTP, one health site), not HTTPS', () => {
    expect(renderCaddyfile(rebuilt(FLEET).registry)).toBe(renderCaddyfile(FLEET));
  });

  test('a hand-written block is still kept as extra, the health site is not', () => {
    const { registry } = rebuilt(FLEET, null, '\nhttp://other.example {\n\trespond "hi"\n}\n');
    expect(registry.extra).toBe('http://other.example {\n\trespond "hi"\n}');
  });

  test('no service routed: the trusted proxies come from the declared configuration', () => {
    const empty: Registry = { ...FLEET, services: {} };
    expect(rebuilt(empty, { ...empty, loadBalancer: { trustedProxies: ['10.80.0.0/16'] } }).registry.loadBalancer).toEqual({ trustedProxies: ['10.80.0.0/16'] });
  });

  test('no service routed and nothing declared: rebuilt without loadBalancer, and the note says so', () => {
    const { registry, notes } = rebuilt({ ...FLEET, services: {} });
    expect(registry.loadBalancer).toBeUndefined();
    expect(notes).toContain('the Caddyfile is a fleet server\'s (behind a load balancer) but names no trusted proxy (no service is routed) and no declared configuration does: rebuilt without loadBalancer; restore a saved registry version to keep plain HTTP');
  });

  test('a single server\'s registry gains no loadBalancer', () => {
    const single: Registry = { ...FLEET, domain: 'portside.test' } as Registry;
    delete (single as { loadBalancer?: unknown }).loadBalancer;
    expect(rebuilt(single).registry).toEqual(single);
  });
});
