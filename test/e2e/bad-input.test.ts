/**
 * The bad-input corpus, server-facing half: hostile or mistyped CLI arguments, service folders and env
 * files, each run through the real CLI against the shared local server. Every row asserts the exit
 * status (2 when the command line itself is wrong: a name, a port, a flag's value; 1 when a folder, a
 * file or the server's state refuses it) and the exact error, and that the server's registry, Caddyfile
 * and pm2 processes are what they were (most rows fail before connecting at all). The pure half is
 * test/unit/bad-input.test.ts.
 */
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { snapshot } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e bad-input tests skipped: ${why}`);

const SAMPLE = join(__dirname, '..', '..', 'assets', 'samples', 'simon');
const work = mkdtempSync(join(tmpdir(), 'portside-bad-'));
const T = ['--target', 'local'];

/** A fresh copy of the sample service, changed by `edit`. */
function folder(edit?: (dir: string) => void): string {
  const dir = mkdtempSync(join(work, 'svc-'));
  cpSync(SAMPLE, dir, { recursive: true });
  edit?.(dir);
  return dir;
}
function envFile(text: string | Buffer): string {
  const file = join(mkdtempSync(join(work, 'env-')), 'prod.env');
  writeFileSync(file, text);
  return file;
}

type Row = [title: string, argv: () => string[], code: number, error: RegExp];

const LABEL = /must be a DNS label: lowercase letters a–z, digits and inner hyphens, starting with a letter/;

const names: Row[] = [
  ['a name with ;', () => ['deploy-service', 'bad;reboot', '--dir', folder(), ...T], 2, /^portside deploy-service: invalid service name "bad;reboot": a service name must be a DNS label/],
  ['a name with $()', () => ['deploy-service', 'bad$(touch /tmp/pwned)', '--dir', folder(), ...T], 2, LABEL],
  ['a name with backticks', () => ['deploy-service', 'bad`id`', '--dir', folder(), ...T], 2, LABEL],
  ['a name with quotes', () => ['deploy-service', "bad'\"", '--dir', folder(), ...T], 2, LABEL],
  ['a name with a newline', () => ['deploy-service', 'bad\nname', '--dir', folder(), ...T], 2, /invalid service name "bad\\nname"/],
  ['a name of ..', () => ['deploy-service', '..', '--dir', folder(), ...T], 2, LABEL],
  ['a name with /', () => ['deploy-service', 'bad/../../etc', '--dir', folder(), ...T], 2, LABEL],
  ['a unicode look-alike name', () => ['deploy-service', 'bаd', '--dir', folder(), ...T], 2, LABEL],
  ['a 64-character name', () => ['deploy-service', `bad${'x'.repeat(61)}`, '--dir', folder(), ...T], 2, /a service name is a DNS label of at most 63 characters; this one has 64/],
  ['the reserved name portside', () => ['deploy-service', 'portside', '--dir', folder(), ...T], 2, /"portside" is reserved by the server/],
  ['an empty name', () => ['deploy-service', '', '--dir', folder(), ...T], 2, /invalid service name "": a service name is required/],
  ['a name that looks like a flag, to remove-service', () => ['remove-service', '-rf', ...T], 2, /Unknown option '-r'/],
  ['a hostile name to remove-service', () => ['remove-service', 'bad;rm -rf ~', ...T], 2, /^portside remove-service: invalid service name "bad;rm -rf ~"/],
  ['a hostile name to rollback', () => ['rollback', '$(reboot)', ...T], 2, /^portside rollback: invalid service name "\$\(reboot\)"/],
  ['a hostile name to logs', () => ['logs', '`id`', ...T], 2, /^portside logs: invalid service name "`id`"/],
  ['a hostile line count to logs', () => ['logs', 'bad-logs', '-n', '10;id', ...T], 2, /-n "10;id" must be a whole number of lines/],
];

const ports: Row[] = [
  ['a port as text', () => ['deploy-service', 'bad-port', 'http', '--dir', folder(), ...T], 2, /port "http" is not a port number: give a whole number 1024–49151/],
  ['a negative port', () => ['deploy-service', 'bad-port', '--dir', folder(), ...T, '--', '-1'], 2, /port "-1" is not a port number: give a whole number 1024–49151/],
  ['port 0', () => ['deploy-service', 'bad-port', '0', '--dir', folder(), ...T], 2, /port 0 is in the well-known range 0–1023/],
  ['port 65536', () => ['deploy-service', 'bad-port', '65536', '--dir', folder(), ...T], 2, /65536 is not a TCP port/],
  ['a float port', () => ['deploy-service', 'bad-port', '3000.5', '--dir', folder(), ...T], 2, /port "3000.5" is not a port number/],
  ['a hex port', () => ['deploy-service', 'bad-port', '0xbb8', '--dir', folder(), ...T], 2, /port "0xbb8" is not a port number/],
  ['reserved 22', () => ['deploy-service', 'bad-port', '22', '--dir', folder(), ...T], 2, /port 22 is SSH, already served by the server's sshd/],
  ['reserved 80', () => ['deploy-service', 'bad-port', '80', '--dir', folder(), ...T], 2, /port 80 is HTTP, already served by Caddy/],
  ['reserved 2019', () => ['deploy-service', 'bad-port', '2019', '--dir', folder(), ...T], 2, /port 2019 is Caddy's admin API/],
  ['well-known 25', () => ['deploy-service', 'bad-port', '25', '--dir', folder(), ...T], 2, /port 25 is SMTP, in the well-known range/],
  ['dynamic 60000', () => ['deploy-service', 'bad-port', '60000', '--dir', folder(), ...T], 2, /port 60000 is in the dynamic range 49152–65535/],
  ['a port taken by another service', () => ['deploy-service', 'bad-port', 'TAKEN', '--dir', folder(), ...T], 1, /^portside deploy-service: cannot deploy "bad-port" on port \d+: port \d+ is already assigned to "[a-z0-9-]+"; free: \d+, \d+$/m],
  ['a health timeout as text', () => ['deploy-service', 'bad-port', '--dir', folder(), '--health-timeout', 'soon', ...T], 2, /--health-timeout "soon" must be a number of seconds/],
  ['a health path with a space', () => ['deploy-service', 'bad-port', '--dir', folder(), '--health-path', '/a b', ...T], 2, /--health-path "\/a b" must be a URL path starting with "\/"/],
  ['a health path that is a URL', () => ['deploy-service', 'bad-port', '--dir', folder(), '--health-path', 'http://evil/', ...T], 2, /must be a URL path starting with "\/"/],
];

const folders: Row[] = [
  ['--dir /', () => ['deploy-service', 'bad-dir', '--dir', '/', ...T], 1, /refusing to deploy the root folder "\/"/],
  ['--dir a file', () => ['deploy-service', 'bad-dir', '--dir', join(folder(), 'index.js'), ...T], 1, /is a file, not a folder/],
  ['--dir missing', () => ['deploy-service', 'bad-dir', '--dir', join(work, 'nope'), ...T], 1, /the service folder .* does not exist/],
  ['a folder with no package.json', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => rmSync(join(d, 'package.json'))), ...T], 1, /has no package\.json/],
  ['a broken package.json', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => writeFileSync(join(d, 'package.json'), '{"name": "x",')), ...T], 1, /package\.json is not valid JSON/],
  ['a package.json that is an array', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => writeFileSync(join(d, 'package.json'), '[]')), ...T], 1, /package\.json is not valid JSON: not an object/],
  ['a folder with no way to start', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => { rmSync(join(d, 'index.js')); writeFileSync(join(d, 'package.json'), '{"name":"x"}'); }), ...T], 1, /has no way to start/],
  ['a portside field escaping the folder', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => writeFileSync(join(d, 'package.json'), '{"name":"x","portside":{"start":"../../etc/passwd"}}')), ...T], 1, /"portside" field: start must be a path inside the folder, got "..\/..\/etc\/passwd"/],
  ['a symlink out of the folder', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => symlinkSync('/etc/passwd', join(d, 'passwd'))), ...T], 1, /passwd is a symbolic link to \/etc\/passwd, outside the service folder/],
  ['a broken symlink', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => symlinkSync(join(d, 'nowhere'), join(d, 'dangling'))), ...T], 1, /dangling is a broken symbolic link/],
  ['a 1 GiB file (sparse)', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => { writeFileSync(join(d, 'huge.bin'), ''); truncateSync(join(d, 'huge.bin'), 2 ** 30); }), ...T], 1, /huge\.bin is 1024 MiB; a release file may be at most 100 MiB/],
  ['a symlink loop back to the folder', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => symlinkSync('.', join(d, 'again'))), ...T], 1, /^portside deploy-service: again is a symbolic link to \S+, a folder that contains it: a symbolic link loop$/m],
  ['a symlink to itself', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => symlinkSync('self', join(d, 'self'))), ...T], 1, /^portside deploy-service: self is a symbolic link loop \(it leads back to itself through self\)$/m],
  ['three 90 MiB files (sparse): 270 MiB in all', () => ['deploy-service', 'bad-dir', '--dir', folder((d) => { for (const n of ['a', 'b', 'c']) { writeFileSync(join(d, `${n}.bin`), ''); truncateSync(join(d, `${n}.bin`), 90 * 2 ** 20); } }), ...T], 1, /the release is 270 MiB in \d+ files; a release may be at most 100 MiB in all\nLargest: a\.bin \(90 MiB\), b\.bin \(90 MiB\), c\.bin \(90 MiB\)/],
  ['deploy-files of a file', () => ['deploy-files', '--dir', join(folder(), 'index.js'), ...T], 1, /^portside deploy-files: .*index\.js is a file, not a folder$/],
];

const envFiles: Row[] = [
  ['an env file that does not exist', () => ['deploy-service', 'bad-env', '--dir', folder(), '--service-env', join(work, 'none.env'), ...T], 1, /--service-env .*none\.env does not exist/],
  ['an env file that is a folder', () => ['deploy-service', 'bad-env', '--dir', folder(), '--service-env', work, ...T], 1, /--service-env .* is not a file/],
  ['a bare $() line', () => ['deploy-service', 'bad-env', '--dir', folder(), '--service-env', envFile('$(touch /tmp/portside-pwned)\n'), ...T], 1, /prod\.env: line 1 is not KEY=value/],
  ['a bare backtick line', () => ['deploy-service', 'bad-env', '--dir', folder(), '--service-env', envFile('OK=1\n`id`\n'), ...T], 1, /prod\.env: line 2 is not KEY=value/],
  ['a quoted value broken by a newline', () => ['deploy-service', 'bad-env', '--dir', folder(), '--service-env', envFile('SECRET="first\nsecond-half"\n'), ...T], 1, /prod\.env: line 2 is not KEY=value/],
  ['a key with a shell metacharacter', () => ['deploy-service', 'bad-env', '--dir', folder(), '--service-env', envFile('A;B=1\n'), ...T], 1, /prod\.env: line 1 is not KEY=value/],
  ['a NUL byte', () => ['deploy-service', 'bad-env', '--dir', folder(), '--service-env', envFile(Buffer.from('A=1\0\n')), ...T], 1, /contains a NUL byte/],
  ['an env file over 64 KiB', () => ['deploy-service', 'bad-env', '--dir', folder(), '--service-env', envFile(`A=${'x'.repeat(70_000)}\n`), ...T], 1, /an env file may be at most 64 KiB/],
];

const cliArgs: Row[] = [
  ['an unknown command', () => ['deploy', 'x'], 2, /^portside: unknown command "deploy"/],
  ['an unknown flag', () => ['deploy-service', 'bad-flag', '--dri-run', ...T], 2, /Unknown option '--dri-run'/],
  ['an unknown target', () => ['doctor', '--target', 'prod'], 2, /--target: "prod" is not a target; use aws\|local/],
  ['a --host with a command in its port', () => ['services', '--host', '10.77.0.2:22;id', '--key', '/dev/null'], 2, /--host: "10\.77\.0\.2:22;id" is not an address/],
  ['no service name at all', () => ['deploy-service', ...T], 2, /^portside deploy-service: which service\? e\.g\. portside deploy-service simon 3000$/],
  ['a -c with an unknown key', () => ['ports', '-c', 'evil=1'], 2, /-c evil=1: unknown context key "evil"/],
  ['a -c opening SSH to the world', () => ['ports', '-c', 'schoolCidr=0.0.0.0/0'], 2, /schoolCidr: this would open SSH to the whole internet/],
  ['ports with a hex port', () => ['ports', '0x50'], 2, /"0x50" is not a TCP port/],
  ['too many arguments', () => ['deploy-service', 'a', '3000', 'extra', ...T], 2, /deploy-service takes a name and an optional port, got: a 3000 extra/],
];

describeE2E('bad input changes nothing on the server', () => {
  let server: LocalServer;
  let taken = 0;
  beforeAll(async () => {
    server = await ensureLocalServer();
    const services = JSON.parse(snapshot(server).registry).services as Record<string, number>;
    taken = Object.values(services)[0];
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const all = [...names, ...ports, ...folders, ...envFiles, ...cliArgs];
  test('the corpus has at least 60 rows here, more in the unit half', () => {
    expect(all.length).toBeGreaterThanOrEqual(60);
  });

  describe.each([['service names', names], ['ports and flags', ports], ['service folders', folders], ['env files', envFiles], ['CLI arguments', cliArgs]] as const)('%s', (_group, rows) => {
    test.each(rows as Row[])('%s', async (_title, argv, code, error) => {
      const args = argv().map((a) => (a === 'TAKEN' ? String(taken) : a));
      const before = snapshot(server);
      const r = await cli(...args);
      expect(r.code).toBe(code);
      expect(r.err).toMatch(error);
      expect(r.out).toBe('');
      const after = snapshot(server);
      // Another suite may deploy meanwhile: nothing of ours appears, and nothing changes when nobody else did.
      expect(after.registry).not.toMatch(/"bad-/);
      expect(after.processes).not.toMatch(/^bad-/m);
      if (after.registry === before.registry) expect(after.caddyfile).toBe(before.caddyfile);
      expect(existsSync('/tmp/portside-pwned')).toBe(false);
    }, 30_000);
  });
});
