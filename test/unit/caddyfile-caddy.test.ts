import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaddyRoutes, renderCaddyfile } from '../../lib/caddy';

/**
 * Every variant the renderer produces, checked by the real Caddy binary on this machine: it must adapt
 * and validate, and `caddy fmt` must have nothing to change.
 */
const paths = { www: '/var/www/portside' };
const VARIANTS: Record<string, CaddyRoutes> = {
  'path, no domain': { routing: 'path', tls: 'acme', services: { simon: 3000, startup: 4000 }, paths },
  'path, domain, email': { domain: 'example.click', email: 'me@example.com', routing: 'path', tls: 'acme', services: { simon: 3000, startup: 4000 }, paths },
  'subdomain, domain': { domain: 'example.click', routing: 'subdomain', tls: 'acme', services: { simon: 3000, startup: 4000 }, paths },
  'subdomain, domain, email': { domain: 'example.click', email: 'me@example.com', routing: 'subdomain', tls: 'acme', services: { simon: 3000 }, paths },
  'subdomain, no domain (falls back to path)': { routing: 'subdomain', tls: 'acme', services: { simon: 3000 }, paths },
  'internal TLS (stand-in)': { domain: 'portside.test', routing: 'subdomain', tls: 'internal', services: { simon: 3000 }, paths },
  'no services': { routing: 'path', tls: 'acme', services: {}, paths },
  'no services, domain': { domain: 'example.click', routing: 'subdomain', tls: 'acme', services: {}, paths },
  'a static root with a space': { routing: 'path', tls: 'acme', services: { a: 3000 }, paths: { www: '/srv/my site' } },
};

const hasCaddy = spawnSync('sh', ['-c', 'command -v caddy']).status === 0;
const describeCaddy = hasCaddy ? describe : describe.skip;
if (!hasCaddy) console.warn('real-Caddy Caddyfile checks skipped: caddy is not installed');

describeCaddy('rendered Caddyfiles, checked by the real caddy', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'portside-caddyfile-'));
    // Caddy keeps state under XDG dirs even to validate: keep it out of the real home.
    env = { ...process.env, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config'), HOME: dir };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(Object.entries(VARIANTS))('%s: adapts, validates, and is fmt-clean', (name, routes) => {
    const file = join(dir, `${name.replace(/[^a-z]+/g, '-')}.Caddyfile`);
    const text = renderCaddyfile(routes);
    writeFileSync(file, text);
    const adapt = spawnSync('caddy', ['adapt', '--config', file, '--adapter', 'caddyfile', '--validate'], { env, encoding: 'utf8' });
    expect([adapt.status, adapt.status === 0 ? '' : adapt.stderr]).toEqual([0, '']);
    // Caddy warns on stderr about what it had to guess or would reformat; an IP-only site on :80 is
    // plain HTTP on purpose, so that one warning is expected.
    const warnings = adapt.stderr.split('\n').filter((l) => l.includes('"level":"warn"') && !l.includes('listening only on the HTTP port'));
    expect(warnings).toEqual([]);
    const fmt = spawnSync('caddy', ['fmt', file], { env, encoding: 'utf8' });
    expect(fmt.status).toBe(0);
    expect(fmt.stdout).toBe(text);
  });

  // What Caddy itself makes of the transport lines: a `keepalive` line alone would leave the per-host idle
  // connections at Go's default of 2 (only idle_timeout in the JSON), so all three must arrive.
  test('every reverse_proxy\'s transport: idle connections kept 2 s, 32 per host, probed every 30 s', () => {
    const file = join(dir, 'transport.Caddyfile');
    writeFileSync(file, renderCaddyfile(VARIANTS['path, no domain']));
    const adapt = spawnSync('caddy', ['adapt', '--config', file, '--adapter', 'caddyfile'], { env, encoding: 'utf8' });
    expect(adapt.status).toBe(0);
    const transports = [...adapt.stdout.matchAll(/"transport":(\{[^{}]*\{[^{}]*\}[^{}]*\})/g)].map((m) => JSON.parse(m[1]));
    expect(transports).toEqual([0, 1].map(() => ({
      protocol: 'http', keep_alive: { idle_timeout: 2_000_000_000, max_idle_conns_per_host: 32, probe_interval: 30_000_000_000 },
    })));
  });
});
