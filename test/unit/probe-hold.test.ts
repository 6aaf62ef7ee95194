/**
 * A held probe (lib/agent/probe-hold.ts): the release's Node process is started before its files are in
 * place and waits in the preload. Run with plain node and the bundled preload, as the agent starts it:
 * nothing of the release runs until GO, and then it starts as a cold process would (its folder, argv,
 * env file, ESM or CommonJS); a pipe closed without GO ends it unstarted.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { GO, HOLD_ENV, HOLD_FD } from '../../lib/agent/probe-hold';
import { RELEASE_ENV_FILE } from '../../lib/remote/layout';
import { bundlePreload } from '../support/preload-bundle';

let preload: string;
beforeAll(() => {
  preload = bundlePreload();
});

interface Held {
  readonly child: ChildProcess;
  readonly out: Promise<{ code: number | null; stdout: string; stderr: string }>;
  readonly pipe: Writable;
}

/** Start `script` (not there yet) held in `base`, as procs.holdProbe does. */
function startHeld(base: string, dir: string, script: string): Held {
  const child = spawn(process.execPath, ['--require', preload, join(dir, script), '4123'], {
    cwd: base, stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
    env: { PATH: process.env.PATH, [HOLD_ENV]: dir, PORTSIDE_ENV_FILE: join(dir, RELEASE_ENV_FILE) },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const out = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, out, pipe: child.stdio[HOLD_FD] as Writable };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The test's base folders, removed after it. */
const bases: string[] = [];
afterEach(() => {
  for (const base of bases.splice(0)) rmSync(base, { recursive: true, force: true });
});

/** A release folder in a base folder, both new; the release's files are written by each test. */
function folders(): { base: string; dir: string } {
  const base = mkdtempSync(join(tmpdir(), 'portside-hold-'));
  bases.push(base);
  const dir = join(base, 'releases', 'r1');
  return { base, dir };
}

const REPORT = `JSON.stringify({ cwd: process.cwd(), argv: process.argv.slice(1), held: process.env.${HOLD_ENV} ?? null, secret: process.env.SECRET ?? null })`;

describe('a held probe', () => {
  test('runs none of the release until GO, then starts it in its folder with its argv and env file', async () => {
    const { base, dir } = folders();
    const held = startHeld(base, dir, 'index.js');
    // Held while the files arrive: the main script does not exist yet.
    await sleep(300);
    expect(held.child.exitCode).toBeNull();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'index.js'), `require('fs').writeFileSync('ran', '1'); console.log(${REPORT});`);
    writeFileSync(join(dir, RELEASE_ENV_FILE), 'SECRET=from-the-env-file\n');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    held.pipe.end(GO);
    const r = await held.out;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cwd: dir, argv: [join(dir, 'index.js'), '4123'], held: null, secret: 'from-the-env-file' });
    expect(existsSync(join(dir, 'ran'))).toBe(true);
  });

  test('an ES module release starts as one, with its relative imports', async () => {
    const { base, dir } = folders();
    const held = startHeld(base, dir, 'main.mjs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'lib.mjs'), 'export const where = import.meta.url;');
    writeFileSync(join(dir, 'main.mjs'), `import { where } from './lib.mjs'; console.log(JSON.stringify({ where, cwd: process.cwd() }));`);
    held.pipe.end(GO);
    const r = await held.out;
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ where: `file://${join(dir, 'lib.mjs')}`, cwd: dir });
  });

  test('a pipe closed without GO (a failed deploy, a dead agent) ends it before any of the release runs', async () => {
    const { base, dir } = folders();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'index.js'), `require('fs').writeFileSync('ran', '1');`);
    const held = startHeld(base, dir, 'index.js');
    await sleep(100);
    held.pipe.end();
    const r = await held.out;
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    expect(existsSync(join(base, 'ran'))).toBe(false);
  });

  test('a process started without the hold runs at once, as before', async () => {
    const { dir } = folders();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'index.js'), `console.log(${REPORT});`);
    const child = spawn(process.execPath, ['--require', preload, join(dir, 'index.js'), '4123'], { cwd: dir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ cwd: dir, held: null });
  });
});
