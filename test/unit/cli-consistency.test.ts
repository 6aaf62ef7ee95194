/**
 * One CLI, one set of conventions (#11): exit 2 for a wrong command line and 1 for a failure after it
 * was accepted, on every command; names and flags checked before any connection is opened; --dry-run
 * on every command that changes a server; -c on every command that reads cdk.json; one --json format;
 * `portside --help` loads no npm package. None of these reach a real server: the "server" here is a TCP
 * listener on loopback that counts the connections made to it and closes them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../lib/cli/main';
import { COMMANDS } from '../../lib/cli/registry-of-commands';
import { chunksAsLines, printJson } from '../../lib/cli/output';

const ROOT = join(__dirname, '..', '..');
const SAMPLE = join(ROOT, 'assets', 'samples', 'simon');
const work = mkdtempSync(join(tmpdir(), 'portside-cli-consistency-'));
const key = join(work, 'id_test');
spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);

let listener: Server;
let connections = 0;
let server: string[] = [];

beforeAll(async () => {
  listener = createServer((s: Socket) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as { port: number };
  server = ['--host', `127.0.0.1:${port}`, '--key', key];
});
afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(argv: string[], cwd = work): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, PORTSIDE_HOME: work };
  delete env.INIT_CWD;
  delete env.PORTSIDE_TARGET;
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env, cwd });
  return { code, out, err };
}

// Each row: a command line that is wrong, and the start of the one error line it gets.
const USAGE_ERRORS: Array<[string, () => string[], RegExp]> = [
  ['deploy-service without a name', () => ['deploy-service', ...server], /^portside deploy-service: which service\?/],
  ['deploy-service with a hostile name', () => ['deploy-service', 'bad;id', '--dir', SAMPLE, ...server], /^portside deploy-service: invalid service name "bad;id"/],
  ['deploy-service with a port as text', () => ['deploy-service', 'simon', 'http', '--dir', SAMPLE, ...server], /^portside deploy-service: port "http" is not a port number/],
  ['deploy-service on a reserved port', () => ['deploy-service', 'simon', '22', '--dir', SAMPLE, ...server], /^portside deploy-service: cannot deploy "simon" on port 22: port 22 is SSH/],
  ['deploy-service with a bad --health-timeout', () => ['deploy-service', 'simon', '--health-timeout', 'soon', '--dir', SAMPLE, ...server], /--health-timeout "soon"/],
  ['deploy-service with a bad --health-path', () => ['deploy-service', 'simon', '--health-path', 'http://x/', '--dir', SAMPLE, ...server], /--health-path "http:\/\/x\/"/],
  ['deploy-service with an extra argument', () => ['deploy-service', 'simon', '3000', 'more', ...server], /takes a name and an optional port/],
  ['deploy-service with an unknown flag', () => ['deploy-service', 'simon', '--dri-run', ...server], /Unknown option '--dri-run'/],
  ['deploy-service with a bad --target', () => ['deploy-service', 'simon', '--dir', SAMPLE, '--target', 'prod'], /--target: "prod" is not a target/],
  ['deploy-files with the folder as a positional', () => ['deploy-files', 'public', ...server], /^portside deploy-files: deploy-files takes its folder as --dir, got: public$/],
  ['services with an argument', () => ['services', 'simon', ...server], /Unexpected argument 'simon'/],
  ['services with a hostile --host', () => ['services', '--host', '10.0.0.1:22;id', '--key', key], /--host: "10\.0\.0\.1:22;id" is not an address/],
  ['rollback without a name', () => ['rollback', ...server], /^portside rollback: rollback takes one service name/],
  ['rollback with a hostile name', () => ['rollback', '$(reboot)', ...server], /^portside rollback: invalid service name "\$\(reboot\)"/],
  ['rollback with a bad --to', () => ['rollback', 'simon', '--to', '../etc', ...server], /^portside rollback: --to "\.\.\/etc" is not a release id/],
  ['remove-service without a name', () => ['remove-service', ...server], /^portside remove-service: remove-service takes one service name/],
  ['remove-service with a hostile name', () => ['remove-service', 'a b', '--dry-run', ...server], /^portside remove-service: invalid service name "a b"/],
  ['sync-config with an argument', () => ['sync-config', 'now', ...server], /^portside sync-config: sync-config takes no arguments/],
  ['logs without a name', () => ['logs', ...server], /^portside logs: logs takes one service name/],
  ['logs with a hostile name', () => ['logs', '`id`', ...server], /^portside logs: invalid service name "`id`"/],
  ['logs with a bad -n', () => ['logs', 'simon', '-n', '10;id', ...server], /-n "10;id" must be a whole number/],
  ['doctor with a -c that is not key=value', () => ['doctor', '-c', 'domain', ...server], /-c domain: context is key=value/],
  ['doctor with an unknown -c key', () => ['doctor', '-c', 'evil=1', ...server], /-c evil=1: unknown context key "evil"/],
  ['ports with two ports', () => ['ports', '80', '443'], /ports takes at most one port/],
  ['ports with a hex port', () => ['ports', '0x50'], /"0x50" is not a TCP port/],
  ['ports with a -c value that breaks its rule', () => ['ports', '-c', 'schoolCidr=0.0.0.0/0'], /invalid configuration/],
  ['caddyfile with an unknown -c key', () => ['caddyfile', '-c', 'evil=1'], /-c evil=1: unknown context key/],
  ['local without a subcommand', () => ['local'], /^portside local: expected one of up, down, status/],
  ['local up with a bad --routing', () => ['local', 'up', '--routing', 'sideways'], /--routing "sideways" is not a routing/],
  ['local status with --routing', () => ['local', 'status', '--routing', 'path'], /--routing goes with `local up`/],
  ['demo with an argument', () => ['demo', 'now'], /Unexpected argument 'now'/],
  ['adopt without --host', () => ['adopt', '--dry-run', '--key', key], /^portside adopt: --host is required/],
  ['adopt with a hostile --host', () => ['adopt', '--host', 'a;id', '--key', key, '--dry-run'], /--host: "a;id" is not an address/],
  ['an unknown command', () => ['deploy', 'x'], /^portside: unknown command "deploy"/],
  ['no command at all', () => [], /^Usage: portside <command>/],
  ["Node's own --env-file", () => ['deploy-service', 'simon', '--env-file', '.env', ...server], /--env-file is Node's own option/],
];

describe('a wrong command line exits 2, says why on stderr, prints nothing on stdout and connects to nothing', () => {
  test.each(USAGE_ERRORS)('%s', async (_title, argv, message) => {
    const before = connections;
    const r = await cli(argv());
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(message);
    expect(r.out).toEqual([]);
    expect(connections).toBe(before);
  });

  test('the table covers every command', () => {
    const covered = new Set(USAGE_ERRORS.map(([, argv]) => argv()[0]));
    for (const c of COMMANDS) expect(covered).toContain(c.name);
  });
});

describe('a failure after the command line was accepted exits 1', () => {
  test('the server cannot be reached (positive control: the listener sees the connection)', async () => {
    const before = connections;
    const r = await cli(['services', ...server]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(connections).toBe(before + 1);
  });

  test('the folder given does not exist', async () => {
    expect((await cli(['deploy-service', 'simon', '--dir', join(work, 'none'), ...server])).code).toBe(1);
    expect((await cli(['deploy-files', '--dir', join(work, 'none'), ...server])).code).toBe(1);
  });

  test("cdk.json's own value breaks a rule: a configuration problem, not the command line", async () => {
    const dir = mkdtempSync(join(work, 'cdk-'));
    writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'x', context: { schoolCidr: '0.0.0.0/0' } }));
    const r = await cli(['ports'], dir);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/schoolCidr: this would open SSH to the whole internet/);
  });
});

describe('every command says the same things the same way', () => {
  const usage = async (name: string): Promise<string> => (await COMMANDS.find((c) => c.name === name)!.load()).usage;

  test.each(COMMANDS.map((c) => [c.name]))('%s --help prints its usage, which names it, and exits 0', async (name) => {
    const r = await cli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toBe(await usage(name));
    expect(r.out.join('\n')).toMatch(new RegExp(`^Usage: portside ${name}\\b`));
  });

  test.each(['deploy-service', 'deploy-files', 'rollback', 'remove-service', 'sync-config'])('%s, which changes a server, has --dry-run', async (name) => {
    expect(await usage(name)).toMatch(/^ {2}--dry-run {2,}\S/m);
  });

  test.each(['ports', 'caddyfile', 'doctor'])('%s, which reads cdk.json, takes -c key=value', async (name) => {
    expect(await usage(name)).toMatch(/^ {2}-c key=value {2,}override a cdk\.json context value/m);
  });

  test('the folder is --dir on both deploy commands', async () => {
    for (const name of ['deploy-service', 'deploy-files']) expect(await usage(name)).toMatch(/^ {2}--dir PATH {2,}/m);
  });

  test('no command writes to process.stdout itself or formats its own --json', () => {
    const dir = join(ROOT, 'lib', 'cli', 'commands');
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect([f, /process\.stdout/.test(text)]).toEqual([f, false]);
      expect([f, /ctx\.out\(JSON\.stringify/.test(text)]).toEqual([f, false]);
    }
  });
});

describe('output', () => {
  test('--json is one document, indented by two spaces, in one write', () => {
    const out: string[] = [];
    printJson({ out: (l) => out.push(l) }, { ok: true, results: [{ id: 'a' }] });
    expect(out).toEqual(['{\n  "ok": true,\n  "results": [\n    {\n      "id": "a"\n    }\n  ]\n}']);
  });

  test('chunks of a remote log become whole lines, also across a split character', () => {
    const lines: string[] = [];
    const w = chunksAsLines((l) => lines.push(l));
    const bytes = Buffer.from('first\nsecond é half');
    w.write(bytes.subarray(0, 3));
    w.write(bytes.subarray(3, 14));
    w.write(bytes.subarray(14));
    w.write('\nlast without newline');
    w.end();
    expect(lines).toEqual(['first', 'second é half', 'last without newline']);
  });
});

describe('start-up', () => {
  // Not timed (times flake on a shared machine): what makes --help slow is loading packages, so the
  // test asserts that the bundle loads none. The measured times are in the note.
  const recorder = join(work, 'record-packages.js');
  writeFileSync(recorder, `const M = require('module'); const load = M._load; const seen = new Set();
M._load = function (request) { if (!M.isBuiltin(request) && !/^[./]/.test(request)) seen.add(request); return load.apply(this, arguments); };
process.on('exit', () => process.stderr.write('PACKAGES ' + JSON.stringify([...seen]) + '\\n'));\n`);
  const build = require(join(ROOT, 'scripts', 'build.js')) as { isFresh(): boolean; build(): void };

  test.each(['--help', 'deploy-service --help', 'doctor --help', 'ports'])('portside %s loads no npm package', (args) => {
    if (!build.isFresh()) build.build();
    const r = spawnSync(process.execPath, ['-r', recorder, join(ROOT, 'dist', 'cli.js'), ...args.split(' ')], { encoding: 'utf8', cwd: ROOT });
    expect(r.status).toBe(0);
    expect(JSON.parse(/^PACKAGES (.*)$/m.exec(r.stderr)![1])).toEqual([]);
  });
});

describe("the AWS SDK's Node 22 notice", () => {
  // A lookup that fails at once (made-up credentials; no network needed for the failure): the SDK was
  // loaded and its client built, which is when it would print the notice.
  const env = { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x', AWS_MAX_ATTEMPTS: '1', PORTSIDE_HOME: work };
  const services = (extra: NodeJS.ProcessEnv): { status: number | null; stderr: string } =>
    spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'services', '--target', 'aws'], { encoding: 'utf8', env: { ...env, ...extra }, timeout: 60_000 });

  test('is not printed to someone deploying (the SDK\'s own switch, set where the SDK loads)', () => {
    const r = services({});
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^portside services: looking up the EC2 server/m);
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning/);
  }, 60_000);

  // The SDK prints it only on Node < 22; elsewhere there is nothing to hide.
  const olderNode = Number(process.versions.node.split('.')[0]) < 22;
  (olderNode ? test : test.skip)('is printed when the user asks for it (their setting wins): the switch is what hides it', () => {
    expect(services({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' }).stderr).toMatch(/NodeVersionSupportWarning/);
  }, 60_000);
});
