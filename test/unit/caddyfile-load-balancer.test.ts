/**
 * A fleet server's Caddyfile (registry `loadBalancer`, issue #10): plain HTTP on port 80 only (TLS ends at
 * the load balancer), forwarded headers believed only from the load balancer's network, and the health
 * answer for the load balancer. Checked as text, then by the real Caddy 2.6.2 running it in a private
 * network namespace (its own port 80, nothing shared with the stand-in servers).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaddyRoutes, renderCaddyfile } from '../../lib/caddy';
import { loadBalancerProblem, parseRegistry, renderRegistry } from '../../lib/registry';

const VPC = '10.80.0.0/24';
const routes = (over: Partial<CaddyRoutes> = {}): CaddyRoutes => ({
  domain: 'example.click', email: 'me@example.com', routing: 'subdomain', tls: 'acme', services: { simon: 3000, startup: 4000 },
  paths: { www: '/var/www/portside', caddyfile: '/etc/portside/Caddyfile' }, loadBalancer: { trustedProxies: [VPC] }, ...over,
});

describe('behind a load balancer, the Caddyfile', () => {
  test('serves every site as plain http://<name>, with no ACME email', () => {
    const text = renderCaddyfile(routes());
    expect(text.match(/^\S.* \{$/gm)).toEqual(['(portside_headers) {', 'http://example.click {', 'http://simon.example.click {', 'http://startup.example.click {', ':80 {']);
    expect(text).not.toContain('email');
  });

  test('trusts forwarded headers in every reverse_proxy only from the given CIDRs', () => {
    for (const routing of ['subdomain', 'path'] as const) {
      const text = renderCaddyfile(routes({ routing }));
      expect(text.match(/reverse_proxy/g)).toHaveLength(2);
      expect(text.match(/^\t+trusted_proxies 10\.80\.0\.0\/24$/gm)).toHaveLength(2);
    }
  });

  test('answers the health check in a catch-all :80 site (or first in the one site without a domain)', () => {
    expect(renderCaddyfile(routes())).toContain([
      ':80 {', '\thandle /_portside/health {', '\t\t@converged file {', '\t\t\troot /etc/portside', '\t\t\ttry_files /portside-converged', '\t\t}',
      '\t\theader Cache-Control no-store', '\t\thandle @converged {', '\t\t\trespond "converged" 200', '\t\t}',
      '\t\thandle {', '\t\t\trespond "converging" 503', '\t\t}', '\t}', '}',
    ].join('\n'));
    const noDomain = renderCaddyfile(routes({ domain: undefined, routing: 'path' }));
    expect(noDomain.match(/^:80 \{$/gm)).toHaveLength(1);
    expect(noDomain).toContain(':80 {\n\thandle /_portside/health {');
  });

  test('is unchanged without loadBalancer (the single server)', () => {
    const single = renderCaddyfile(routes({ loadBalancer: undefined }));
    expect(single).toContain('\temail me@example.com\n');
    expect(single).toContain('\nsimon.example.click {');
    expect(single).not.toMatch(/trusted_proxies|http:\/\/|_portside\/health/);
  });

  // AWS: "configure the idle timeout of your application to be larger than the idle timeout configured for the
  // load balancer" (60 s by default), or the ALB may send a request on a connection the target just closed and
  // answer 502 (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout).
  // Caddy keeps an idle client connection 5 minutes unless `servers { timeouts { idle } }` says otherwise
  // (https://caddyserver.com/docs/caddyfile/options#timeouts): the fleet's Caddyfile must not shorten it.
  test('sets no server timeouts, so Caddy keeps idle connections from the load balancer 5 minutes (longer than the ALB\'s 60 s)', () => {
    for (const routing of ['subdomain', 'path'] as const) expect(renderCaddyfile(routes({ routing }))).not.toMatch(/\b(timeouts|idle)\b/);
  });

  test('refuses to render without the Caddyfile path the health marker sits beside', () => {
    expect(() => renderCaddyfile(routes({ paths: { www: '/var/www/portside' } }))).toThrow('needs paths.caddyfile');
  });
});

describe('the registry', () => {
  const registry = { version: 1 as const, ...routes(), paths: { www: '/var/www/portside', caddyfile: '/etc/portside/Caddyfile' } };

  test('keeps loadBalancer through render and parse', () => {
    expect(parseRegistry(renderRegistry(registry)).loadBalancer).toEqual({ trustedProxies: [VPC] });
    expect(renderRegistry({ ...registry, loadBalancer: undefined })).not.toContain('loadBalancer');
  });

  test.each<[unknown, string]>([
    [{}, 'trustedProxies must list the CIDRs'],
    [{ trustedProxies: [] }, 'trustedProxies must list the CIDRs'],
    [{ trustedProxies: ['10.80.0.1/24'] }, 'host bits are set; the network is 10.80.0.0/24'],
  ])('refuses loadBalancer %j', (lb, rule) => {
    expect(loadBalancerProblem(lb)).toContain(rule);
    expect(() => parseRegistry(JSON.stringify({ ...registry, loadBalancer: lb }))).toThrow(rule);
  });
});

const hasTools = spawnSync('sh', ['-c', 'command -v caddy && command -v curl && unshare -n true']).status === 0;
const describeReal = hasTools ? describe : describe.skip;
if (!hasTools) console.warn('real-Caddy load-balancer checks skipped: caddy, curl or unshare -n is missing');

/**
 * One run in a fresh network namespace: an echo backend on 3000, Caddy on the rendered file, then requests.
 * Prints one `name=value` line per check.
 */
const SCENARIO = `
set -e
ip link set lo up
node -e 'require("http").createServer((q, r) => r.end(String(q.headers["x-forwarded-for"]))).listen(3000, "127.0.0.1")' &
caddy run --config "$DIR/Caddyfile" --adapter caddyfile >"$DIR/caddy.log" 2>&1 &
for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:80/ && break; sleep 0.1; done
get() { curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1$2"; }
echo "xff=$(curl -s -H 'Host: simon.example.click' -H 'X-Forwarded-For: 203.0.113.9' http://127.0.0.1/)"
echo "health_without_marker=$(get 10.80.0.5 /_portside/health)"
: >"$DIR/etc/portside-converged"
echo "health_with_marker=$(get 10.80.0.5 /_portside/health)"
echo "cache=$(curl -s -D - -o /dev/null -H 'Host: 10.80.0.5' http://127.0.0.1/_portside/health | tr -d '\\r' | grep -i '^cache-control' || true)"
echo "listening=$(ss -Hltn | awk '{print $4}' | sed 's/.*://' | sort -un | tr '\\n' ' ')"
kill %1 %2
`;

describeReal('the real Caddy 2.6.2, behind a load balancer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portside-lb-caddy-'));
    mkdirSync(join(dir, 'etc'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function run(trustedProxies: string[]): Record<string, string> {
    const text = renderCaddyfile(routes({ services: { simon: 3000 }, loadBalancer: { trustedProxies }, paths: { www: join(dir, 'www'), caddyfile: join(dir, 'etc', 'Caddyfile') } }));
    writeFileSync(join(dir, 'Caddyfile'), text);
    const env = { ...process.env, DIR: dir, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
    const r = spawnSync('unshare', ['-n', 'bash', '-c', SCENARIO], { env, encoding: 'utf8', timeout: 30_000 });
    expect([r.status, r.stderr]).toEqual([0, '']);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  test('replaces X-Forwarded-For from outside the load balancer network, answers health 503 then 200, listens on 80 only', () => {
    const out = run([VPC]);
    // 127.0.0.1 is not in the VPC: the client's own header is not believed.
    expect(out.xff).toBe('127.0.0.1');
    expect([out.health_without_marker, out.health_with_marker]).toEqual(['503', '200']);
    expect(out.cache.toLowerCase()).toBe('cache-control: no-store');
    // 80 for the sites, 2019 Caddy's admin on loopback, 3000 the backend: no 443.
    expect(out.listening.trim().split(' ')).toEqual(['80', '2019', '3000']);
  });

  test('extends X-Forwarded-For from the load balancer network', () => {
    expect(run(['127.0.0.0/8']).xff).toBe('203.0.113.9, 127.0.0.1');
  });
});
