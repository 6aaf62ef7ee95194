/**
 * The real CLI as a child process against the shared local stand-in server, through the commands the
 * README gives (`node bin/portside.js …` and `npm run deploy-service -- …`), with stderr a pipe as in
 * CI: what a terminal would show badly (percent lines) and what Node itself reads from argv.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, testHome } from '../support/cli';
import { ensureLocalServer, localServerUnavailable } from '../support/local-server';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e CLI process tests skipped: ${why}`);

const ROOT = join(__dirname, '..', '..');
const NAME = 'e2e-cli-process';
const work = mkdtempSync(join(tmpdir(), 'portside-cli-process-'));
const STACK = /^\s+at .+:\d+:\d+\)?$|Unhandled 'error' event|node:internal/m;

interface Run { code: number | null; out: string; err: string }

function run(cmd: string, args: string[]): Promise<Run> {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, PORTSIDE_HOME: testHome }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

describeE2E('the real CLI process against the local server', () => {
  const app = join(work, 'app');
  cpSync(join(ROOT, 'assets', 'samples', 'simon'), app, { recursive: true });

  beforeAll(async () => {
    await ensureLocalServer();
    await cli('remove-service', NAME, '--purge', '--target', 'local');
  }, 120_000);

  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
  }, 60_000);

  test('stderr is not a terminal: no percent lines; every step line ends with its time', async () => {
    const r = await run(process.execPath, [join(ROOT, 'bin', 'portside.js'), 'deploy-service', NAME, '--dir', app, '--target', 'local']);
    expect(r.code).toBe(0);
    expect(r.err).not.toContain('uploading');
    expect(r.err).not.toContain('%');
    const started = [...r.err.matchAll(/^→ (\S+)$/gm)].map((m) => m[1]);
    const ended = [...r.err.matchAll(/^✓ (\S+) \((\d+\.\d\d) s\)$/gm)].map((m) => m[1]);
    expect(started).toEqual(expect.arrayContaining(['upload', 'switch']));
    expect(ended).toEqual(started);
  }, 120_000);

  describe('an env file that sets NODE_OPTIONS is data for the server, never options for this process', () => {
    const marker = join(work, 'node-options-ran');
    const hostile = join(work, 'mark.js');
    writeFileSync(hostile, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran in pid ' + process.pid);\n`);
    const envFile = join(work, 'prod.env');
    writeFileSync(envFile, `NODE_OPTIONS=--require ${hostile}\nGREETING=hi\n`);

    test.each<[string, string, string[]]>([
      ['node bin/portside.js', process.execPath, [join(ROOT, 'bin', 'portside.js'), 'deploy-service']],
      ['npm run deploy-service --', 'npm', ['run', '-s', 'deploy-service', '--']],
    ])('%s x --service-env FILE --dry-run: Portside reads the file as data (no marker, no stack trace)', async (_how, cmd, prefix) => {
      const r = await run(cmd, [...prefix, NAME, '--dir', app, '--service-env', envFile, '--dry-run', '--target', 'local']);
      expect(existsSync(marker)).toBe(false);
      expect(r.err).not.toMatch(STACK);
      expect(r.err).not.toContain(hostile);
      // The server's env rules refuse NODE_OPTIONS by its line number; without them the plan is printed.
      expect(r.err).toMatch(/prod\.env: line 1 sets NODE_OPTIONS|env file: uploaded with mode 0600/);
    }, 60_000);

    test('npm run deploy-service -- x --service-env FILE (GREETING only) --dry-run: the plan says the env file is uploaded', async () => {
      const plain = join(work, 'plain.env');
      writeFileSync(plain, 'GREETING=hi\n');
      const r = await run('npm', ['run', '-s', 'deploy-service', '--', NAME, '--dir', app, '--service-env', plain, '--dry-run', '--target', 'local']);
      expect(r.err).toContain('env file: uploaded with mode 0600 (contents not shown)');
      expect(r.code).toBe(0);
    }, 60_000);
  });
});
