/**
 * Path routing with the course's app shape, end to end on the shared stand-in: `local up --routing
 * path`, a real Vite build (absolute /assets/ URLs by default) with an /api back end deployed under
 * /<name>/, every file its index.html references fetched through Caddy, then routing switched back.
 * The stand-in is left routing by subdomain, as every other suite expects, whatever happens here.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchThrough, FetchResult } from '../../lib/net/fetch-through';
import { parseRegistry, Registry } from '../../lib/registry';
import { REGISTRY_FILE } from '../../lib/remote/layout';
import { cli } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { userHome } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e path-routing tests skipped: ${why}`);

const NAME = 'e2e-simon';
const ESCAPING = 'e2e-escaping';
const FIXTURES = join(__dirname, '..', 'fixtures', 'services');
const work = mkdtempSync(join(tmpdir(), 'portside-e2e-path-'));

/** The course's shape with only Vite as a dependency: index.html, a module, a style sheet, a public icon, an API. */
function writeViteApp(dir: string): void {
  const write = (rel: string, text: string): void => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  write('package.json', JSON.stringify({ name: 'path-app', private: true, type: 'module', scripts: { build: 'vite build' }, devDependencies: { vite: '^8.0.0' } }));
  write('index.html', `<!doctype html>
<html><head><meta charset="UTF-8" /><link rel="icon" type="image/svg+xml" href="/favicon.svg" /><title>Simon</title></head>
<body><div id="root">loading</div><script type="module" src="/src/main.js"></script></body></html>
`);
  write('public/favicon.svg', '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>\n');
  write('src/style.css', 'body { font-family: system-ui, sans-serif; }\n');
  // The documented way to call the back end: relative to the base the app is served under.
  write('src/main.js', `import './style.css';
fetch(\`\${import.meta.env.BASE_URL}api/hello\`).then((r) => r.json()).then((j) => { document.getElementById('root').textContent = j.hello; });
`);
  // The back end serves the built front end from public/ (with content types, as express.static does) and /api.
  write('service/package.json', JSON.stringify({ name: 'path-app-service', private: true, main: 'index.js' }));
  write('service/index.js', `const http = require('http');
const fs = require('fs');
const path = require('path');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname.startsWith('/api/')) {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ hello: 'from the api', path: url.pathname }));
  }
  const rel = url.pathname === '/' ? 'index.html' : path.normalize(url.pathname).replace(/^\\/+/, '');
  fs.readFile(path.join(__dirname, 'public', rel), (err, data) => {
    if (err) { res.statusCode = 404; return res.end('not found'); }
    res.setHeader('content-type', TYPES[path.extname(rel)] || 'application/octet-stream');
    res.end(data);
  });
}).listen(process.argv[2] || 4000);
`);
}

/** src/href of the tags a browser loads with the page; the test's own reading, not Portside's. */
function referencedFiles(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*\s(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
}

describeE2E('path routing on the local server', () => {
  let server: LocalServer;
  let before: Registry;
  let answeredBefore: Record<string, number>;
  let app: string;
  const ca = (): Buffer => readFileSync(server.caCertPath);
  const get = (url: string): Promise<FetchResult> => fetchThrough(url, server.address, { ca: ca() });
  const registry = (): Registry => parseRegistry(readFileSync(join(userHome(server), REGISTRY_FILE), 'utf8'));
  const base = (): string => `https://${server.domain}/${NAME}/`;
  const subdomainStatuses = async (names: string[]): Promise<Record<string, number>> => Object.fromEntries(await Promise.all(
    names.map(async (n) => [n, await get(`https://${n}.${server.domain}/`).then((r) => r.status, () => 0)] as const)));

  beforeAll(async () => {
    server = await ensureLocalServer();
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    await cli('remove-service', ESCAPING, '--purge', '--target', 'local');
    before = registry();
    answeredBefore = await subdomainStatuses(Object.keys(before.services));
    app = join(work, 'app');
    writeViteApp(app);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] });
  }, 180_000);

  afterAll(async () => {
    try {
      await cli('remove-service', NAME, '--purge', '--target', 'local');
      await cli('remove-service', ESCAPING, '--purge', '--target', 'local');
    } finally {
      // Every other suite expects subdomain routing: put it back even when a test failed half-way.
      if (registry().routing !== before.routing) await cli('local', 'up', '--routing', before.routing);
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);

  test('local up --routing path switches the registry and the Caddyfile, keeping every service', async () => {
    expect(before.routing).toBe('subdomain');
    const r = await cli('local', 'up', '--routing', 'path');
    expect(r.err).not.toMatch(/portside local:/);
    expect(r).toExitWith(0);
    expect(r.err).toContain('routing: subdomain → path');
    const now = registry();
    expect(now.routing).toBe('path');
    expect(now.services).toEqual(before.services);
    const caddyfile = readFileSync(now.paths.caddyfile, 'utf8');
    for (const name of Object.keys(before.services)) expect(caddyfile).toContain(`handle_path /${name}/* {`);
  }, 60_000);

  test('a Vite app deployed under /<name>/ gets every file its index.html names, and its API', async () => {
    const r = await cli('deploy-service', NAME, '--dir', app, '--target', 'local');
    expect(r.err).not.toMatch(/portside deploy-service:/);
    expect(r).toExitWith(0);
    expect(r.out).toContain(base());
    // The first build guessed "/" (nothing was remembered); the server said path: built again for /<name>/.
    expect(r.err).toContain(`building the front end again for /${NAME}/`);
    expect(r.err).not.toMatch(/warning:/);

    const page = await get(base());
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    const files = referencedFiles(page.body);
    expect(files.filter((f) => f.endsWith('.js'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.css'))).toHaveLength(1);
    expect(files).toContain(`/${NAME}/favicon.svg`);
    for (const file of files) {
      const url = new URL(file, base()).href;
      const answer = await get(url);
      expect([file, answer.status]).toEqual([file, 200]);
      const type = String(answer.headers['content-type']);
      const want = file.endsWith('.js') ? /javascript/ : file.endsWith('.css') ? /^text\/css/ : /^image\/svg\+xml/;
      expect([file, type]).toEqual([file, expect.stringMatching(want)]);
    }
    // The module calls `${BASE_URL}api/hello`: built with base /<name>/, that is /<name>/api/hello.
    const js = await get(new URL(files.find((f) => f.endsWith('.js'))!, base()).href);
    expect(js.body).toContain(`/${NAME}/`);
    const api = await get(`${base()}api/hello`);
    expect(api.status).toBe(200);
    expect(String(api.headers['content-type'])).toMatch(/^application\/json/);
    expect(JSON.parse(api.body)).toEqual({ hello: 'from the api', path: '/api/hello' });
  }, 120_000);

  test('the next deploy remembers the routing: the build for /<name>/ is reused, not redone', async () => {
    const r = await cli('deploy-service', NAME, '--dir', app, '--target', 'local');
    expect(r).toExitWith(0);
    expect(r.err).toContain('front end unchanged since the last build');
    expect(r.err).not.toContain('building the front end again');
  }, 60_000);

  test('deploy warns when a page under /<name>/ references files that reach the root site instead', async () => {
    const dir = join(work, 'escaping');
    cpSync(join(FIXTURES, 'fullstack'), dir, { recursive: true });
    // Not a Vite build: Portside cannot give it a base, so its absolute /assets/ URL escapes the prefix.
    writeFileSync(join(dir, 'src', 'index.html'), '<!doctype html><title>x</title><script src="/assets/app.js"></script><h1>%BUILT%</h1>\n');
    const r = await cli('deploy-service', ESCAPING, '--dir', dir, '--target', 'local');
    expect(r).toExitWith(0);
    expect(r.err).toContain(`warning: https://${server.domain}/${ESCAPING}/ loads, but 1 file(s) it references do not`);
    expect(r.err).toMatch(new RegExp(`/assets/app\\.js: text/html[^\\n]*, not JavaScript \\(/assets/app\\.js is outside /${ESCAPING}/`));
  }, 60_000);

  test('local up --routing subdomain switches back; the other services answer as they did', async () => {
    const r = await cli('local', 'up', '--routing', 'subdomain');
    expect(r).toExitWith(0);
    expect(r.err).toContain('routing: path → subdomain');
    const now = registry();
    expect(now.routing).toBe('subdomain');
    const others = Object.keys(before.services);
    expect(await subdomainStatuses(others)).toEqual(answeredBefore);
  }, 60_000);
});
