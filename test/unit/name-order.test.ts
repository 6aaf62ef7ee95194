/**
 * The registry and the Caddyfile are rendered by every teammate's CLI and compared byte for byte with the
 * server's: their order must not follow the machine's locale (lib/registry/name-order.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { renderCaddyfile } from '../../lib/caddy';
import { Registry, renderRegistry } from '../../lib/registry';

const registry: Registry = { version: 1, domain: 'course.test', routing: 'subdomain', tls: 'internal', paths: { www: '/var/www/portside', caddyfile: '/etc/caddy/Caddyfile' }, services: { zebra: 3001, aarhus: 3002, bob: 3003, 'a-b': 3004, ab: 3005 } };
const lib = resolve(__dirname, '..', '..', 'lib');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'portside-order-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('services are in code-unit order, the English order of service names', () => {
  expect(Object.keys(JSON.parse(renderRegistry(registry)).services)).toEqual(['a-b', 'aarhus', 'ab', 'bob', 'zebra']);
  const text = renderCaddyfile(registry);
  expect(['a-b', 'aarhus', 'ab', 'bob', 'zebra'].map((n) => text.indexOf(`${n}.course.test {`))).toEqual(
    [...['a-b', 'aarhus', 'ab', 'bob', 'zebra'].map((n) => text.indexOf(`${n}.course.test {`))].sort((a, b) => a - b));
});

test('a CLI on a Danish machine renders the same registry and Caddyfile as this one', () => {
  const entry = join(work, 'render.ts');
  writeFileSync(entry, [
    `import { renderCaddyfile } from ${JSON.stringify(join(lib, 'caddy'))};`,
    `import { renderRegistry } from ${JSON.stringify(join(lib, 'registry'))};`,
    `const r = ${JSON.stringify(registry)};`,
    // Shows that the locale is in effect: Danish sorts "aa" (å) after "z".
    "console.log(JSON.stringify({ locale: ['aarhus', 'zebra'].sort((a, b) => a.localeCompare(b)), text: renderRegistry(r) + renderCaddyfile(r) }));",
  ].join('\n'));
  buildSync({ entryPoints: [entry], bundle: true, platform: 'node', outfile: join(work, 'render.js'), logLevel: 'error' });
  const out = JSON.parse(execFileSync(process.execPath, [join(work, 'render.js')], { env: { ...process.env, LANG: 'da_DK.UTF-8', LC_ALL: 'da_DK.UTF-8' } }).toString());
  expect(out.locale).toEqual(['zebra', 'aarhus']);
  expect(out.text).toBe(renderRegistry(registry) + renderCaddyfile(registry));
});
