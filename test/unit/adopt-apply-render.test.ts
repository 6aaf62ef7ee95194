import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaddyRoutes, renderCaddyfile } from '../../lib/caddy';
import { parseRegistry, Registry, renderRegistry } from '../../lib/registry';

/** An adopted course server's routes: the student's per-site headers and global options kept verbatim (registry `kept`). */
const adopted: CaddyRoutes = {
  domain: 'course.test', routing: 'subdomain', tls: 'internal', services: { simon: 3000 }, paths: { www: '/usr/share/caddy/.portside' },
  kept: {
    global: ['email student@example.com'],
    site: ['header Cache-Control no-store', 'header -etag'],
    services: { simon: ['header Access-Control-Allow-Origin *'] },
  },
};

test('kept directives go into the global options, the root site and each service\'s site, in the order given', () => {
  const text = renderCaddyfile(adopted);
  expect(text).toContain(['{', '\tlocal_certs', '\tskip_install_trust', '\tgrace_period 10s', '\temail student@example.com', '}'].join('\n'));
  expect(text).toContain(['\tfile_server', '\theader Cache-Control no-store', '\theader -etag', '}'].join('\n'));
  expect(text).toContain(['simon.course.test {', '\timport portside_headers', '\treverse_proxy 127.0.0.1:3000 {', '\t\tlb_try_duration 5s', '\t\tlb_try_interval 100ms',
    '\t\ttransport http {', '\t\t\tkeepalive 2s', '\t\t\tkeepalive_interval 30s', '\t\t\tkeepalive_idle_conns_per_host 32', '\t\t}', '\t}',
    '\theader Access-Control-Allow-Origin *', '}'].join('\n'));
});

test('path routing: a service\'s kept directives go inside its handle_path, the root site\'s inside handle', () => {
  const text = renderCaddyfile({ ...adopted, domain: undefined, routing: 'path' });
  expect(text).toContain(['\t\t}', '\t\theader Access-Control-Allow-Origin *', '\t}', '\thandle {'].join('\n'));
  expect(text).toContain(['\t\tfile_server', '\t\theader Cache-Control no-store', '\t\theader -etag', '\t}', '}'].join('\n'));
});

test('a multi-line kept directive keeps its shape, one level deeper per place', () => {
  const text = renderCaddyfile({ ...adopted, kept: { services: { simon: ['header {\n\t\tX-A 1\n\t}'] } } });
  expect(text).toContain(['\t}', '\theader {', '\t\tX-A 1', '\t}', '}'].join('\n'));
});

test('without kept, the text is what it was (no empty lines added)', () => {
  const { kept, ...plain } = adopted;
  expect(kept).toBeDefined();
  expect(renderCaddyfile(plain)).not.toMatch(/\n\s*\n\s*}/);
  expect(renderCaddyfile(plain)).not.toContain('Access-Control');
});

test('the registry keeps `kept` through render and parse, and refuses a kept that is not lists of lines', () => {
  const registry: Registry = { version: 1, ...adopted, paths: { ...adopted.paths, caddyfile: '/home/ubuntu/.portside/caddy/Caddyfile' } } as Registry;
  expect(parseRegistry(renderRegistry(registry)).kept).toEqual(adopted.kept);
  expect(() => parseRegistry(JSON.stringify({ ...registry, kept: { site: 'header -etag' } }))).toThrow(/kept: global and site must be lists of Caddyfile lines/);
});

const hasCaddy = spawnSync('sh', ['-c', 'command -v caddy']).status === 0;
(hasCaddy ? test : test.skip)('the real caddy validates an adopted Caddyfile, and `caddy fmt` has nothing to change', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portside-kept-'));
  try {
    const file = join(dir, 'Caddyfile');
    writeFileSync(file, renderCaddyfile(adopted));
    const env = { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
    const adapt = spawnSync('caddy', ['adapt', '--config', file, '--adapter', 'caddyfile'], { env, encoding: 'utf8' });
    expect(adapt.stderr).not.toMatch(/Error/);
    expect(adapt.status).toBe(0);
    const fmt = spawnSync('caddy', ['fmt', file], { env, encoding: 'utf8' });
    expect(fmt.stdout).toBe(renderCaddyfile(adopted));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
