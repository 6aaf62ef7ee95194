/**
 * planRoutes: the routes a deploy sends. The usual redeploy (same port, the live Caddyfile exactly what the
 * registry renders) sends none and renders nothing else; a hand edit or a new port renders them again and
 * keeps hand-written sites.
 */
import { renderCaddyfile } from '../../lib/caddy/render-caddyfile';
import { planRoutes } from '../../lib/deploy/deploy-service';
import { Registry, renderRegistry } from '../../lib/registry';

const services = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`s${i + 1}`, 5000 + i]));
const registry: Registry = {
  version: 1, domain: 'example.com', email: 'me@example.com', routing: 'subdomain', tls: 'acme',
  services: { ...services, simon: 3000 }, paths: { www: '/var/www/portside', caddyfile: '/etc/portside/Caddyfile' },
  extra: 'blog.example.com {\n\treverse_proxy 127.0.0.1:9000\n}',
};
const plan = (caddyfile: string | null, port?: number) => {
  const logs: string[] = [];
  const r = planRoutes({ name: 'simon', port, address: '203.0.113.10', log: (l) => { logs.push(l); } }, { registry: renderRegistry(registry), caddyfile } as Parameters<typeof planRoutes>[1]);
  return { r, logs };
};

describe('planRoutes', () => {
  test('same port, the live Caddyfile as the registry renders it (hand-written site included): no routes, nothing said', () => {
    const { r, logs } = plan(renderCaddyfile(registry));
    expect(r.routes).toBeNull();
    expect(r.port).toBe(3000);
    expect(r.existing).toBe(3000);
    expect(r.next.services.simon).toBe(3000);
    expect(r.url).toBe('https://simon.example.com/');
    expect(logs).toEqual([]);
  });

  test('the port left out keeps the registered one, with the same result', () => {
    expect(plan(renderCaddyfile(registry), undefined).r.routes).toBeNull();
  });

  test('a hand edit of the live Caddyfile: rendered again, said so, the hand-written site kept', () => {
    const live = `${renderCaddyfile(registry)}\nshop.example.com {\n\treverse_proxy 127.0.0.1:9100\n}\n`;
    const { r, logs } = plan(live);
    expect(r.routes).not.toBeNull();
    expect(logs.join('\n')).toMatch(/does not match the registry/);
    expect(logs.join('\n')).toMatch(/kept "shop.example.com" verbatim/);
    expect(r.routes!.caddyfile).toContain('shop.example.com {');
    expect(r.routes!.caddyfile).toContain('blog.example.com {');
  });

  test('a new port: routes rendered for it, no mismatch said', () => {
    const { r, logs } = plan(renderCaddyfile(registry), 3100);
    expect(r.routes).not.toBeNull();
    expect(r.routes!.caddyfile).toContain('127.0.0.1:3100');
    expect(JSON.parse(r.routes!.registry).services.simon).toBe(3100);
    expect(logs.join('\n')).not.toMatch(/does not match/);
  });
});
