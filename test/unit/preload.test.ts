/**
 * The preload every service runs with (lib/agent/preload.ts, bundled into dist/server/preload.js):
 * its pure decisions (which listen arguments become loopback, which env file, what it adds), and the
 * bundle itself run by plain node inside a service's process: dependency-free, a wide listen lands
 * on 127.0.0.1, the env file loads without overriding what is set.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isWildcardHost, toLoopback } from '../../lib/agent/loopback';
import { envAdditions, envFileName } from '../../lib/agent/service-env';
import { VERIFY_HEADER } from '../../lib/agent/verify-request';
import { RELEASE_ENV_FILE } from '../../lib/remote/layout';
import { bundlePreload } from '../support/preload-bundle';

const cb = (): void => {};

describe('toLoopback: which listen() calls are bound to 127.0.0.1', () => {
  test.each<[string, unknown[], unknown[]]>([
    ['a port alone', [3000], [3000, '127.0.0.1']],
    ['a port given as digits', ['3000'], ['3000', '127.0.0.1']],
    ['a port and a callback', [3000, cb], [3000, '127.0.0.1', cb]],
    ['a port and a backlog', [3000, 511, cb], [3000, '127.0.0.1', 511, cb]],
    ['0.0.0.0', [3000, '0.0.0.0', cb], [3000, '127.0.0.1', cb]],
    ['::', [3000, '::'], [3000, '127.0.0.1']],
    ['the long form of ::', [3000, '0:0:0:0:0:0:0:0'], [3000, '127.0.0.1']],
    ['an empty host', [3000, ''], [3000, '127.0.0.1']],
    ['a null host', [3000, null, cb], [3000, '127.0.0.1', cb]],
    ['an undefined host', [3000, undefined, cb], [3000, '127.0.0.1', cb]],
    ['options without a host', [{ port: 3000 }, cb], [{ port: 3000, host: '127.0.0.1' }, cb]],
    ['options with host 0.0.0.0', [{ port: 3000, host: '0.0.0.0', backlog: 5 }], [{ port: 3000, host: '127.0.0.1', backlog: 5 }]],
  ])('%s: made loopback', (_title, args, expected) => {
    expect(toLoopback(args)).toEqual(expected);
  });

  test.each<[string, unknown[]]>([
    ['a specific address', [3000, '10.0.0.5', cb]],
    ['localhost', [3000, 'localhost']],
    ['::1', [3000, '::1']],
    ['options with a specific host', [{ port: 3000, host: '192.168.1.2' }]],
    ['a unix socket path', ['/tmp/app.sock', cb]],
    ['options with a path', [{ path: '/tmp/app.sock' }]],
    ['options with an fd', [{ fd: 3 }]],
    ['a handle', [{ _handle: {} }]],
    ['no arguments', []],
  ])('%s: left as the app gave it', (_title, args) => {
    expect(toLoopback(args)).toEqual(args);
  });

  test('only the wildcard spellings count as "every interface"', () => {
    expect(['', '0.0.0.0', '::', '0:0:0:0:0:0:0:0', undefined, null].every(isWildcardHost)).toBe(true);
    expect(['127.0.0.1', '::1', 'localhost', '0.0.0.1', '0'].some(isWildcardHost)).toBe(false);
  });
});

describe('envFileName: the env file of the service the process runs', () => {
  test('PORTSIDE_ENV_FILE, set by the agent, wins', () => {
    expect(envFileName({ PORTSIDE_ENV_FILE: '/s/.portside.env', pm2_env: '{"pm_cwd":"/x"}' }, '/cwd')).toBe('/s/.portside.env');
  });
  test('in cluster mode it is inside pm2_env (top level or its env)', () => {
    expect(envFileName({ pm2_env: JSON.stringify({ PORTSIDE_ENV_FILE: '/a/.portside.env' }) }, '/cwd')).toBe('/a/.portside.env');
    expect(envFileName({ pm2_env: JSON.stringify({ env: { PORTSIDE_ENV_FILE: '/b/.portside.env' } }) }, '/cwd')).toBe('/b/.portside.env');
  });
  test('else beside pm2\'s working folder, else beside the process\'s', () => {
    expect(envFileName({ pm2_env: JSON.stringify({ pm_cwd: '/srv/app' }) }, '/cwd')).toBe(join('/srv/app', RELEASE_ENV_FILE));
    expect(envFileName({}, '/cwd')).toBe(join('/cwd', RELEASE_ENV_FILE));
    expect(envFileName({ pm2_env: '{not json' }, '/cwd')).toBe(join('/cwd', RELEASE_ENV_FILE));
  });
});

describe('envAdditions: what the env file adds', () => {
  test('never overrides a variable already set, and the first of two lines wins', () => {
    expect(envAdditions('A=file\nB=1\nB=2\nC=3', { A: 'set', C: '' })).toEqual([['B', '1']]);
  });
});

describe('the bundle, run by plain node inside a service', () => {
  let bundle: string;
  beforeAll(() => {
    bundle = bundlePreload();
  });

  test('requires nothing but Node\'s own modules', () => {
    const required = [...readFileSync(bundle, 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required.filter((m) => !builtinModules.includes(m.replace(/^node:/, '')))).toEqual([]);
  });

  test('a server listening on every interface is bound to 127.0.0.1; the env file is loaded, set variables kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portside-preload-'));
    try {
      const envFile = join(dir, RELEASE_ENV_FILE);
      writeFileSync(envFile, 'GREETING="hello there"\nKEPT=from-file\n', { mode: 0o600 });
      const app = `const s = require('http').createServer(() => {}).listen(0, () => {
      console.log(JSON.stringify({ address: s.address().address, greeting: process.env.GREETING, kept: process.env.KEPT })); s.close(); });`;
      const out = execFileSync(process.execPath, ['--require', bundle, '-e', app], {
        encoding: 'utf8', env: { PATH: process.env.PATH, PORTSIDE_ENV_FILE: envFile, KEPT: 'from-pm2' }, timeout: 10_000,
      });
      expect(JSON.parse(out)).toEqual({ address: '127.0.0.1', greeting: 'hello there', kept: 'from-pm2' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the agent\'s verify (its header) is answered with Connection: close; any other request keeps its connection', () => {
    // Both on one keep-alive agent: Caddy's pool to the service behaves the same (verify-request.ts says why).
    const app = `const http = require('http');
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const ask = (headers) => new Promise((ok) => http.get({ port: s.address().port, host: '127.0.0.1', agent, headers }, (r) => {
        const socket = r.socket; r.resume(); r.on('end', () => ok({ connection: r.headers.connection, socket }));
      }));
      const s = http.createServer((q, r) => r.end('ok')).listen(0, async () => {
        const plain = await ask({});
        const verify = await ask({ '${VERIFY_HEADER}': '1' });
        // A kept-alive socket would stay open (the agent's default idle time is 5 s).
        const closed = await new Promise((ok) => {
          const t = setTimeout(() => ok(false), 2000);
          const yes = () => { clearTimeout(t); ok(true); };
          verify.socket.destroyed ? yes() : verify.socket.once('close', yes);
        });
        console.log(JSON.stringify({ plain: plain.connection, verify: verify.connection, closed }));
        agent.destroy(); s.close();
      });`;
    const out = execFileSync(process.execPath, ['--require', bundle, '-e', app], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 10_000 });
    expect(JSON.parse(out)).toEqual({ plain: 'keep-alive', verify: 'close', closed: true });
  });
});
