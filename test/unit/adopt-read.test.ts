/**
 * What adopt reads before planning: the discovery script (run here by the real sh against a home laid
 * out as nvm and the course lay it out), its parser, the Node and pm2 it picks, the file Caddy was
 * started with, `pm2 jlist`, and a Caddyfile's blocks and directives.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caddyConfigSource } from '../../lib/adopt/caddy-source';
import { readCaddyfile } from '../../lib/adopt/caddyfile-sites';
import { Discovery, DISCOVER_SCRIPT, parseDiscovery, pickNode, pickPm2 } from '../../lib/adopt/discover';
import { parsePm2List } from '../../lib/adopt/pm2-list';
import { courseShape } from '../../lib/targets/course/layout';

describe('the discovery script, run by sh', () => {
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'adopt-home-'));
    for (const v of ['v18.20.4', 'v20.17.0', 'v22.3.0']) {
      mkdirSync(join(home, '.nvm', 'versions', 'node', v, 'bin'), { recursive: true });
      writeFileSync(join(home, '.nvm', 'versions', 'node', v, 'bin', 'node'), '#!/bin/sh\n', { mode: 0o755 });
    }
    // As `npm install -g pm2` under nvm's Node leaves it: bin/pm2 links into lib/node_modules.
    mkdirSync(join(home, '.nvm', 'versions', 'node', 'v20.17.0', 'lib', 'node_modules', 'pm2', 'bin'), { recursive: true });
    writeFileSync(join(home, '.nvm', 'versions', 'node', 'v20.17.0', 'lib', 'node_modules', 'pm2', 'bin', 'pm2'), '#!/usr/bin/env node\n', { mode: 0o755 });
    symlinkSync('../lib/node_modules/pm2/bin/pm2', join(home, '.nvm', 'versions', 'node', 'v20.17.0', 'bin', 'pm2'));
    mkdirSync(join(home, '.nvm', 'alias'));
    writeFileSync(join(home, '.nvm', 'alias', 'default'), 'v20.17.0\n');
    for (const s of ['startup', 'simon']) mkdirSync(join(home, 'services', s), { recursive: true });
    writeFileSync(join(home, 'services', 'notes.txt'), 'not a service folder');
    symlinkSync('/usr/share', join(home, 'public_html'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  const discover = (): Discovery => parseDiscovery(execFileSync('sh', ['-c', DISCOVER_SCRIPT], {
    encoding: 'utf8', env: { HOME: home, PATH: '/usr/bin:/bin', PM2_HOME: join(home, '.pm2') },
  }));

  test('finds nvm\'s versions and default alias, the service folders (folders only) and ~/public_html resolved', () => {
    const d = discover();
    expect(d.home).toBe(home);
    expect(d.nvm.defaultAlias).toBe('v20.17.0');
    expect(d.nvm.nodes.map((n) => n.split('/').slice(-3, -2)[0])).toEqual(['v18.20.4', 'v20.17.0', 'v22.3.0']);
    expect(d.nvm.pm2s).toEqual([join(home, '.nvm/versions/node/v20.17.0/bin/pm2')]);
    expect(d.serviceFolders).toEqual(['simon', 'startup']);
    expect(d.publicHtml).toBe('/usr/share');
    expect(d.pm2).toEqual({ daemonPid: null, exe: null, bin: null });
  });

  test('with no pm2 daemon running, pm2 is looked for beside nvm\'s default Node', () => {
    const d = discover();
    const node = pickNode(d);
    expect(node).toEqual({ path: join(home, '.nvm/versions/node/v20.17.0/bin/node'), how: 'nvm\'s default (v20.17.0)' });
    expect(pickPm2(d, node.path)).toBe(join(home, '.nvm/versions/node/v20.17.0/bin/pm2'));
  });
});

describe('picking the Node pm2 really uses', () => {
  const base = parseDiscovery('user=ubuntu\nhome=/home/ubuntu\n');
  test('the pm2 daemon\'s executable wins over nvm\'s default and the PATH', () => {
    const d: Discovery = { ...base, pm2: { daemonPid: 41, exe: '/opt/node22/bin/node', bin: '/opt/node22/bin/pm2' }, nvm: { defaultAlias: 'v20.1.0', nodes: ['/home/ubuntu/.nvm/versions/node/v20.1.0/bin/node'], pm2s: [] }, which: { caddy: null, node: '/usr/bin/node', pm2: '/usr/bin/pm2' } };
    expect(pickNode(d)).toEqual({ path: '/opt/node22/bin/node', how: 'the pm2 daemon\'s executable (pid 41)' });
    expect(pickPm2(d, '/opt/node22/bin/node')).toBe('/opt/node22/bin/pm2');
  });
  test('a system Node (no nvm) is the PATH\'s', () => {
    const d: Discovery = { ...base, which: { caddy: '/usr/bin/caddy', node: '/usr/bin/node', pm2: '/usr/bin/pm2' } };
    expect(pickNode(d)).toEqual({ path: '/usr/bin/node', how: 'the PATH of a non-interactive SSH session' });
    expect(pickPm2(d, '/usr/bin/node')).toBe('/usr/bin/pm2');
  });
  test('the newest nvm version when there is no default alias', () => {
    const nodes = ['v9.0.0', 'v20.10.0', 'v20.9.1'].map((v) => `/h/.nvm/versions/node/${v}/bin/node`);
    expect(pickNode({ ...base, nvm: { defaultAlias: null, nodes, pm2s: [] } }).path).toBe('/h/.nvm/versions/node/v20.10.0/bin/node');
  });
  test('no pm2 beside nvm\'s Node and none on the PATH: none', () => {
    const d: Discovery = { ...base, nvm: { defaultAlias: null, nodes: ['/h/.nvm/versions/node/v20.1.0/bin/node'], pm2s: [] } };
    expect(pickPm2(d, '/h/.nvm/versions/node/v20.1.0/bin/node')).toBeNull();
  });
  test('none at all says where it looked', () => {
    expect(pickNode(base)).toEqual({ path: null, how: expect.stringMatching(/^no node found/) });
  });
  test('a deleted executable (Node upgraded under a running daemon) is read without " (deleted)"', () => {
    expect(parseDiscovery('pm2.daemon=41\npm2.exe=/usr/bin/node (deleted)\n').pm2.exe).toBe('/usr/bin/node');
  });
});

describe('the file Caddy was started with', () => {
  test('from the running process\'s --config; the adapter inferred from a name starting with Caddyfile', () => {
    expect(caddyConfigSource([{ pid: 9, argv: ['/usr/bin/caddy', 'run', '--environ', '--config', '/etc/caddy/Caddyfile'] }], null))
      .toEqual({ file: '/etc/caddy/Caddyfile', adapter: 'caddyfile', how: 'the running Caddy\'s command line (pid 9: /usr/bin/caddy run --environ --config /etc/caddy/Caddyfile)' });
  });
  test('--config=FILE and an explicit --adapter; a .json file without one is JSON', () => {
    expect(caddyConfigSource([{ pid: 9, argv: ['caddy', 'run', '--config=/srv/site.conf', '--adapter', 'caddyfile'] }], null)).toMatchObject({ file: '/srv/site.conf', adapter: 'caddyfile' });
    expect(caddyConfigSource([{ pid: 9, argv: ['caddy', 'run', '--config', '/srv/caddy.json'] }], null)).toMatchObject({ file: '/srv/caddy.json', adapter: null });
  });
  test('from caddy.service\'s ExecStart when the process has no --config (e.g. --resume)', () => {
    const unit = '{ path=/usr/bin/caddy ; argv[]=/usr/bin/caddy run --environ --config /etc/caddy/Caddyfile ; ignore_errors=no ; start_time=[n/a] }';
    expect(caddyConfigSource([{ pid: 9, argv: ['caddy', 'run', '--resume'] }], unit)).toMatchObject({ file: '/etc/caddy/Caddyfile', how: expect.stringMatching(/^caddy\.service's ExecStart/) });
  });
  test('neither: null', () => {
    expect(caddyConfigSource([{ pid: 9, argv: ['caddy', 'run'] }], null)).toBeNull();
  });
});

describe('pm2 jlist', () => {
  const entry = {
    pid: 52, name: 'simon', pm_id: 0,
    pm2_env: { status: 'online', exec_mode: 'fork_mode', pm_exec_path: '/home/ubuntu/services/simon/index.js', pm_cwd: '/home/ubuntu/services/simon', args: ['3000', 'simon'], exec_interpreter: 'node', env: { PORT: '3000' } },
  };
  test('reads name, pid, status, mode, script, folder, arguments and PORT, after pm2\'s notices', () => {
    const out = `>>>> In-memory PM2 is out-of-date, do:\n>>>> $ pm2 update\n${JSON.stringify([entry, { ...entry, name: 'startup', pm_id: 1, pid: 0, pm2_env: { ...entry.pm2_env, status: 'stopped', args: '4000 startup', env: {} } }])}\n`;
    expect(parsePm2List(out)).toEqual([
      { name: 'simon', pmId: 0, pid: 52, status: 'online', execMode: 'fork', script: '/home/ubuntu/services/simon/index.js', cwd: '/home/ubuntu/services/simon', args: ['3000', 'simon'], envPort: 3000, interpreter: 'node' },
      { name: 'startup', pmId: 1, pid: null, status: 'stopped', execMode: 'fork', script: '/home/ubuntu/services/simon/index.js', cwd: '/home/ubuntu/services/simon', args: ['4000', 'startup'], envPort: null, interpreter: 'node' },
    ]);
  });
  test('no list at all is an error that shows what pm2 printed', () => {
    expect(() => parsePm2List('[PM2] Spawning PM2 daemon\n')).toThrow(/pm2 jlist printed no list: "\[PM2\] Spawning/);
  });
});

describe('a Caddyfile\'s blocks and directives', () => {
  test('the course Caddyfile: global options, the root site, one site per service, directives as written', () => {
    const blocks = readCaddyfile(courseShape('course').caddyfile);
    expect(blocks.map((b) => [b.kind, b.block.key, b.hosts])).toEqual([
      ['global', '', []], ['site', 'course.test', ['course.test']], ['site', 'startup.course.test', ['startup.course.test']], ['site', 'simon.course.test', ['simon.course.test']],
    ]);
    expect(blocks[1].directives.map((d) => d.text)).toEqual(['root * /usr/share/caddy', 'file_server', 'header Cache-Control no-store', 'header -server', 'header -etag']);
  });
  test('a multi-line directive is one statement; comments and blank lines are not directives; hosts lose scheme and port', () => {
    const [b] = readCaddyfile('# mine\nhttps://a.example.com:8443, :80 {\n\t# proxy it\n\treverse_proxy localhost:3000 {\n\t\tlb_try_duration 5s\n\t}\n\n\tencode gzip\n}\n');
    expect(b.hosts).toEqual(['a.example.com', '']);
    expect(b.directives).toEqual([
      { name: 'reverse_proxy', text: 'reverse_proxy localhost:3000 {\n\t\tlb_try_duration 5s\n\t}' },
      { name: 'encode', text: 'encode gzip' },
    ]);
  });
});
