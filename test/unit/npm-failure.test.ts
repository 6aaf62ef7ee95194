/**
 * A failed `npm ci` on the server: what the user is shown. npm's own last line names its log file; on a
 * full disk that line is all npm prints (measured: npm 11 with its cache on a full filesystem prints only
 * "npm error A complete log of this run can be found in: …", and the log itself is cut short).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as npm from '../../lib/agent/npm-failure';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { run } = require('../../lib/agent/run');

const FULL_DISK = 'npm error A complete log of this run can be found in: /home/portside/.npm/_logs/2026-11-30T07_31_26_365Z-debug-0.log\n';
const NOT_FOUND = [
  'npm error code E404',
  'npm error 404 Not Found - GET https://registry.npmjs.org/expresss - Not found',
  'npm error 404',
  'npm error 404  \'expresss@^4.0.0\' is not in this registry.',
  'npm error A complete log of this run can be found in: /home/portside/.npm/_logs/x-debug-0.log',
].join('\n');
const TAR_ENOSPC = `${'npm warn tar TAR_ENTRY_ERROR ENOSPC: no space left on device, write\n'.repeat(40)}npm warn deprecated glob@7.2.3: old\n`;
const roomy = [{ dir: '/srv/release', free: 5 * 2 ** 30 }];

describe('pickNpmLines', () => {
  test('drops the line about npm\'s own log file', () => {
    expect(npm.pickNpmLines(FULL_DISK)).toEqual([]);
  });

  test('keeps npm\'s error lines in order', () => {
    expect(npm.pickNpmLines(NOT_FOUND)).toEqual([
      'npm error code E404',
      'npm error 404 Not Found - GET https://registry.npmjs.org/expresss - Not found',
      'npm error 404',
      'npm error 404  \'expresss@^4.0.0\' is not in this registry.',
    ]);
  });

  test('keeps warnings that name a system error, once with a count; drops other warnings', () => {
    expect(npm.pickNpmLines(TAR_ENOSPC)).toEqual(['npm warn tar TAR_ENTRY_ERROR ENOSPC: no space left on device, write (×40)']);
  });
});

describe('describeNpmFailure', () => {
  test('a full disk is named as the cause, with the free space, npm\'s words and how to free space', () => {
    const r = npm.describeNpmFailure('npm ci', 'exit 1', FULL_DISK, [{ dir: '/srv/release', free: 5 * 2 ** 30 }, { dir: '/home/portside/.npm', free: 0 }]);
    expect(r.message).toBe('npm ci failed (exit 1): the server\'s disk is full (0.0 MB free for /home/portside/.npm)');
    expect(r.detail).toMatch(/^npm said nothing more than: npm error A complete log of this run/);
    expect(r.detail).toMatch(/portside remove-service <name> --purge/);
  });

  test('otherwise npm\'s first error line is the message and the rest is the detail', () => {
    const r = npm.describeNpmFailure('npm ci', 'exit 1', NOT_FOUND, roomy);
    expect(r.message).toBe('npm ci failed (exit 1): code E404');
    expect(r.detail).toContain('  npm error 404  \'expresss@^4.0.0\' is not in this registry.');
    expect(r.detail).not.toContain('A complete log');
  });
});

const canMount = process.getuid?.() === 0 && process.platform === 'linux';
(canMount ? test : test.skip)('a real npm with its cache on a full filesystem: the agent\'s run() reports the full disk', async () => {
  const root = mkdtempSync(join(tmpdir(), 'portside-npm-full-'));
  const disk = join(root, 'disk');
  mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
  try {
    const app = join(root, 'app');
    mkdirSync(app);
    // A local dependency: no network, yet npm needs its cache folder for its log and state.
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { dep: 'file:dep' } }));
    mkdirSync(join(app, 'dep'));
    writeFileSync(join(app, 'dep', 'package.json'), JSON.stringify({ name: 'dep', version: '1.0.0' }));
    // Fill it: dd stops (and fails) when no block is left, which is the point.
    spawnSync('dd', ['if=/dev/zero', `of=${join(disk, 'fill')}`, 'bs=4k', 'count=64'], { stdio: 'ignore' });
    const before = process.env.npm_config_cache;
    process.env.npm_config_cache = join(disk, 'npm-cache');
    try {
      const e = await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app }).then(() => null, (err: Error) => err);
      expect(e).not.toBeNull();
      expect(e.message).toMatch(/^npm install failed \(exit \d+\): the server's disk is full \(0\.0 MB free for \S+npm-cache\)$/);
      expect((e as Error & { detail: string }).detail).toMatch(/Free some space on the server/);
    } finally {
      if (before === undefined) delete process.env.npm_config_cache;
      else process.env.npm_config_cache = before;
    }
  } finally {
    execFileSync('umount', [disk]);
    rmSync(root, { recursive: true, force: true });
  }
}, 60_000);
