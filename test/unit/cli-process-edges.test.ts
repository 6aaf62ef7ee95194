/**
 * The real CLI as a child process (`node bin/portside.js`, and `npm run` as the README says), for what
 * only a real process shows: a reader that closes stdout, and options Node itself reads from argv.
 * None of these reach a server.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../../lib/cli/registry-of-commands';
import { nodeOwnedOption } from '../../lib/cli/node-owned-options';

const ROOT = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'portside-cli-edges-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run { code: number | null; out: string; err: string }

function run(cmd: string, args: string[], o: { closeStdout?: boolean } = {}): Promise<Run> {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, PORTSIDE_HOME: work }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  // Closing our end before the CLI writes makes its first stdout write fail with EPIPE, every time.
  if (o.closeStdout) child.stdout!.destroy();
  else child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

const STACK = /^\s+at .+\(.*:\d+:\d+\)$|Unhandled 'error' event|node:internal/m;

describe('a closed stdout (`portside ports | head -1`) ends the CLI quietly', () => {
  const argvs = [['ports'], ['--help'], ...COMMANDS.map((c) => [c.name, '--help'])].map((a) => [a.join(' '), a] as const);
  test.each(argvs)('portside %s', async (_title, args) => {
    const r = await run(process.execPath, [join(ROOT, 'bin', 'portside.js'), ...args], { closeStdout: true });
    expect(r.err).not.toMatch(STACK);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  test('with stdout open, the same command still prints everything', async () => {
    const r = await run(process.execPath, [join(ROOT, 'bin', 'portside.js'), 'ports']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^PORT\s+EXPOSURE\s+HOLDER$/m);
  });
});

describe("Node's own --env-file never reaches Node through the npm scripts", () => {
  const marker = join(work, 'node-options-ran');
  const hostile = join(work, 'mark.js');
  writeFileSync(hostile, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran in pid ' + process.pid);\n`);
  const envFiles: Array<[string, string]> = [
    ['a --require of a script that writes a marker', `NODE_OPTIONS=--require ${hostile}\n`],
    ['a --require of a file that is not JavaScript', 'NODE_OPTIONS=--require /etc/passwd\n'],
  ];

  test.each(envFiles)('npm run deploy-service -- x --env-file FILE (%s): refused by Portside, nothing ran, no stack trace', async (_what, text) => {
    const file = join(work, `env-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, text);
    for (const flag of [['--env-file', file], [`--env-file=${file}`]]) {
      const r = await run('npm', ['run', '-s', 'deploy-service', '--', 'x', '--dir', work, ...flag, '--dry-run', '--target', 'local']);
      expect(existsSync(marker)).toBe(false);
      expect(r.err).not.toMatch(STACK);
      expect(r.err).not.toContain('/etc/passwd');
      expect(r.err).toContain("--env-file is Node's own option");
      expect(r.err).toContain('--service-env FILE');
      expect(r.code).toBe(2);
    }
  });

  test.each<[string[], string | null]>([
    [['deploy-service', 'x', '--env-file', 'f'], '--env-file'],
    [['deploy-service', 'x', '--env-file=f'], '--env-file'],
    [['services', '--env-file-if-exists', 'f'], '--env-file-if-exists'],
    [['deploy-service', 'x', '--service-env', 'f'], null],
    [['deploy-service', 'x', '--env-files', 'f'], null],
    [['logs', 'x', '--', '--env-file', 'f'], null],
  ])('nodeOwnedOption(%j) is %s', (argv, flag) => {
    expect(nodeOwnedOption(argv)).toBe(flag);
  });
});
