import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ASSETS_DIR, readBootstrapScript } from '../../lib/bootstrap';

/**
 * Which Caddy the EC2 server runs: Ubuntu 24.04's own package, 2.6.2 (https://packages.ubuntu.com/noble/caddy),
 * the upstream version of Debian 12's package that every Caddy test here runs (test/unit/caddyfile-caddy,
 * the e2e tests, the boot rehearsal). These tests tie the two together: if either side moves, they fail.
 */
const SCRIPT = join(ASSETS_DIR, 'bootstrap.sh');
const hasCaddy = spawnSync('sh', ['-c', 'command -v caddy']).status === 0;
/** The settings the bootstrap refuses to be sourced without (values that touch nothing here). */
const SETTINGS = { PORTSIDE_USER: 'root', PORTSIDE_WWW: '/nonexistent/www', PORTSIDE_CADDY_DIR: '/nonexistent/etc' };

function pinnedVersion(): string {
  const r = spawnSync('bash', ['-c', `. ${JSON.stringify(SCRIPT)}; printf %s "$CADDY_VERSION"`], {
    env: { PATH: process.env.PATH, ...SETTINGS }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  expect(r.stderr).toBe('');
  return r.stdout;
}

test('the server installs Ubuntu\'s caddy package: no other Caddy repository is added', () => {
  const script = readBootstrapScript();
  expect(script).not.toMatch(/cloudsmith|caddyserver\.com|caddy-stable/);
  const repos = [...script.matchAll(/^\s*apt_repo (\S+)/gm)].map((m) => m[1]);
  expect(repos).toEqual(['nodesource']);
  expect(script).toMatch(/^\s*apt_install caddy nodejs$/m);
});

(hasCaddy ? test : test.skip)('the version the server insists on is the version every test here runs', () => {
  const local = spawnSync('caddy', ['version'], { encoding: 'utf8' }).stdout.trim();
  expect(pinnedVersion()).toBe('2.6.2');
  expect(local).toMatch(/^v?2\.6\.2(\s|$)/);
});

describe('check_caddy_version (the boot step after install_packages)', () => {
  let root: string;
  beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'portside-caddy-version-')); });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function check(versionLine: string) {
    mkdirSync(join(root, 'bin'));
    writeFileSync(join(root, 'bin', 'caddy'), `#!/bin/sh\necho '${versionLine}'\n`, { mode: 0o755 });
    return spawnSync('bash', ['-c', `. ${JSON.stringify(SCRIPT)}; check_caddy_version && echo ok`], {
      env: { PATH: `${join(root, 'bin')}:${process.env.PATH}`, ...SETTINGS }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  test.each([
    ['Debian/Ubuntu package', '2.6.2'],
    ['an upstream build', 'v2.6.2 h1:lqtKsbDbaCOdgVoF8PLlStUQr2SA7E4hwHGqvJ8Qs1Q='],
  ])('accepts %s ("%s")', (_what, line) => {
    const r = check(line);
    expect(r.stdout.trim().split('\n').pop()).toBe('ok');
  });

  test.each([
    ['a newer Caddy from its own repository', 'v2.11.2 h1:abc='],
    ['a version that merely starts with 2.6.2', '2.6.20'],
  ])('refuses %s, naming the version it found and the one the tests cover', (_what, line) => {
    const r = check(line);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`caddy version says "${line}", not 2.6.2: the Caddyfiles are tested against 2.6.2 only`);
  });
});
