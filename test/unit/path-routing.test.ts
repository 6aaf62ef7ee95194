/**
 * Path routing's pure parts: the base a front end is built for, the build's argv, the `--routing`
 * flag, the registry with another routing, and the agent's reading of a page's referenced files.
 * The whole flow through the real stand-in is test/e2e/path-routing.test.ts.
 */
import { renderCaddyfile } from '../../lib/caddy';
import { buildArgvFor, servedBase } from '../../lib/deploy/front-end-base';
import { parseRouting, withRouting } from '../../lib/deploy/set-routing';
import { Registry } from '../../lib/registry';
import { cli } from '../support/cli';

// The agent's module is plain JavaScript shipped to the server; its pure functions are tested here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pageCheck = require('../../lib/agent/page-check') as {
  assetRefs(html: string): string[];
  assetProblem(ref: string, url: string, prefix: string, answer: { status?: number; type?: string; error?: string }): string | null;
};

const NPM_BUILD = ['npm', 'run', 'build'] as const;

describe('servedBase', () => {
  test('is / by subdomain and /<name>/ by path', () => {
    expect(servedBase('subdomain', 'simon')).toBe('/');
    expect(servedBase('path', 'simon')).toBe('/simon/');
  });
});

describe('buildArgvFor', () => {
  test('leaves the build exactly as it is for /', () => {
    expect(buildArgvFor(NPM_BUILD, 'vite build', '/')).toBe(NPM_BUILD);
    expect(buildArgvFor(NPM_BUILD, 'node build.js', '/')).toBe(NPM_BUILD);
  });

  test.each([
    ['vite build'],
    ['tsc && vite build'],
    ['vite build --mode production'],
    ['npx vite build'],
    ['tsc -b; vite build'],
  ])('gives a Vite build its base when vite build is the last command: %s', (script) => {
    expect(buildArgvFor(NPM_BUILD, script, '/simon/')).toEqual(['npm', 'run', 'build', '--', '--base=/simon/']);
  });

  test.each([
    ['node build.js'],
    ['vite build && cp -r public dist'],
    ['react-scripts build'],
    ['vitest run'],
  ])('cannot give a base to a build that does not end in vite build: %s', (script) => {
    expect(buildArgvFor(NPM_BUILD, script, '/simon/')).toBeUndefined();
  });

  test('cannot give a base when the script is unknown', () => {
    expect(buildArgvFor(NPM_BUILD, undefined, '/simon/')).toBeUndefined();
  });

  test('throws on a base that is not a /…/ path (it becomes a build argument)', () => {
    expect(() => buildArgvFor(NPM_BUILD, 'vite build', '/a b/')).toThrow('not a base path: "/a b/"');
    expect(() => buildArgvFor(NPM_BUILD, 'vite build', 'simon')).toThrow('not a base path');
  });
});

describe('parseRouting', () => {
  test('accepts subdomain and path, and nothing given', () => {
    expect(parseRouting('subdomain')).toBe('subdomain');
    expect(parseRouting('path')).toBe('path');
    expect(parseRouting(undefined)).toBeUndefined();
  });

  test.each(['paths', 'Path', '', 'subdomain;id'])('refuses %j with the value, the allowed values and an example', (value) => {
    expect(() => parseRouting(value)).toThrow(`--routing ${JSON.stringify(value)} is not a routing: use subdomain or path, e.g. --routing path`);
  });
});

const LIVE: Registry = {
  version: 1, domain: 'portside.test', routing: 'subdomain', tls: 'internal',
  services: { simon: 3000, startup: 4000 }, paths: { www: '/srv/www', caddyfile: '/srv/etc/Caddyfile' },
};

describe('withRouting', () => {
  test('changes only the routing: services, ports, domain, tls and paths are kept', () => {
    expect(withRouting(LIVE, 'path')).toEqual({ ...LIVE, routing: 'path' });
    expect(withRouting(withRouting(LIVE, 'path'), 'subdomain')).toEqual(LIVE);
  });

  test('the path Caddyfile serves every service under its prefix', () => {
    const text = renderCaddyfile(withRouting(LIVE, 'path'));
    for (const name of ['simon', 'startup']) {
      expect(text).toContain(`\tredir /${name} /${name}/ 308\n\thandle_path /${name}/* {`);
      expect(text).not.toContain(`${name}.portside.test {`);
    }
  });

  test('throws when subdomain routing has no domain to hang names on', () => {
    const { domain: _omit, ...noDomain } = { ...LIVE, routing: 'path' as const };
    expect(() => withRouting(noDomain, 'subdomain')).toThrow('cannot route by subdomain: the server has no domain');
  });
});

describe('portside local --routing (checked before anything runs)', () => {

  test('refuses an unknown routing as a usage error (exit 2) with the fix', async () => {
    const r = await cli('local', 'up', '--routing', 'paths');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--routing "paths" is not a routing: use subdomain or path, e.g. --routing path');
  });

  test('refuses --routing with status or down (exit 2)', async () => {
    const r = await cli('local', 'status', '--routing', 'path');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--routing goes with `local up`, not `local status`');
    expect((await cli('local', 'down', '--routing', 'path')).code).toBe(2);
  });
});

describe('page-check: the files a page makes the browser load', () => {
  test('reads scripts, style sheets, icons and module preloads, in order, once each', () => {
    const html = `<!doctype html><html><head>
      <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
      <script type="module" crossorigin src="/assets/index-abc.js"></script>
      <link rel="modulepreload" crossorigin href='/assets/vendor-def.js'>
      <link rel=stylesheet href=/assets/index-ghi.css>
      <link rel="canonical" href="https://example.com/">
      <!-- <script src="/commented-out.js"></script> -->
      </head><body><a href="/about">about</a><img src="data:image/png;base64,AAAA"><img src="logo.png">
      <script src="/assets/index-abc.js"></script></body></html>`;
    expect(pageCheck.assetRefs(html)).toEqual(['/favicon.svg', '/assets/index-abc.js', '/assets/vendor-def.js', '/assets/index-ghi.css', 'logo.png']);
  });

  const FIX = 'build the front end for /simon/, e.g. vite build --base=/simon/, or use relative URLs';

  test('a script outside the prefix that answers the root site\'s page is named, with the fix', () => {
    expect(pageCheck.assetProblem('/assets/a.js', 'https://x.test/assets/a.js', '/simon/', { status: 200, type: 'text/html; charset=utf-8' }))
      .toBe(`/assets/a.js: text/html; charset=utf-8, not JavaScript (/assets/a.js is outside /simon/, so it reaches the root site: ${FIX})`);
  });

  test.each([
    ['a style sheet answered as HTML', '/simon/assets/a.css', { status: 200, type: 'text/html' }, '/simon/assets/a.css: text/html, not CSS'],
    ['a missing file', '/simon/assets/a.js', { status: 404, type: 'text/plain' }, '/simon/assets/a.js: 404'],
    ['an icon answered as a page', '/simon/favicon.ico', { status: 200, type: 'text/html' }, '/simon/favicon.ico: an HTML page, not the file'],
    ['a refused connection', '/simon/a.js', { error: 'ECONNREFUSED' }, '/simon/a.js: ECONNREFUSED'],
  ])('reports %s', (_title, path, answer, message) => {
    expect(pageCheck.assetProblem(path, `https://x.test${path}`, '/simon/', answer)).toBe(message);
  });

  test.each([
    ['a module script', '/simon/assets/a.js', 'text/javascript; charset=utf-8'],
    ['a classic script', '/simon/assets/a.js', 'application/javascript'],
    ['a style sheet', '/simon/assets/a.css', 'text/css; charset=utf-8'],
    ['an icon', '/simon/favicon.svg', 'image/svg+xml'],
  ])('accepts %s', (_title, path, type) => {
    expect(pageCheck.assetProblem(path, `https://x.test${path}`, '/simon/', { status: 200, type })).toBeNull();
  });
});
