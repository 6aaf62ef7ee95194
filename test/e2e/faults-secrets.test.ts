/**
 * Secrets stay secret on both sides: a service's env file and the SSH private key are never printed,
 * never logged, never copied into pm2's or Portside's own files, and never readable by other users.
 * (A tampered host key, an auth failure without the key in the message, and cdk-nag are proven in
 * test/e2e/ssh.test.ts and test/stack/nag.test.ts; the README's "What Portside guarantees" lists them.)
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PORTSIDE_DIR, REGISTRY_FILE, RELEASE_ENV_FILE, releaseDir, releasesDir, SERVICES_DIR } from '../../lib/remote/layout';
import { cli, testHome } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { userHome } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e secrets tests skipped: ${why}`);

const NAME = 'fault-secret';
const SECRET = `s3cr3t-${Date.now()}-never-shown`;
const mode = (p: string) => statSync(p).mode & 0o777;

/** Every regular file under `dir` whose content contains `needle` (grep -rl, as root: sees everything). */
function filesContaining(dir: string, needle: string): string[] {
  try {
    return execFileSync('grep', ['-rlF', '--', needle, dir], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return []; // grep exits 1 when nothing matches
  }
}

describeE2E('secrets on both sides', () => {
  let server: LocalServer;
  let home: string;
  let output = '';
  let dir: string | undefined;
  let env: string | undefined;

  beforeAll(async () => {
    server = await ensureLocalServer();
    home = userHome(server);
    dir = mkdtempSync(join(tmpdir(), 'portside-secret-'));
    cpSync(join(__dirname, '..', '..', 'assets', 'samples', 'simon'), dir, { recursive: true });
    env = join(dir, '..', `${NAME}.env`);
    writeFileSync(env, `API_KEY=${SECRET}\n`);
    const r = await cli('deploy-service', NAME, '--dir', dir, '--service-env', env, '--target', 'local', '--force');
    expect(r).toExitWith(0);
    const again = await cli('deploy-service', NAME, '--dir', dir, '--service-env', env, '--target', 'local', '--dry-run');
    output = [r.out, r.err, again.out, again.err].join('\n');
  }, 120_000);

  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (env) rmSync(env, { force: true });
  }, 60_000);

  test('the env file\'s values are never printed by the CLI, even in a dry run', () => {
    expect(output).not.toContain(SECRET);
    expect(output).toMatch(/env file: uploaded with mode 0600 \(contents not shown\)/);
  });

  test('on the server, the value is only in the release\'s .portside.env, mode 0600, owned by the deploy user', () => {
    const holders = filesContaining(home, SECRET);
    expect(holders.length).toBeGreaterThan(0);
    for (const file of holders) {
      // releases/<id>/.portside.env: a release's own env file, nowhere else.
      expect([dirname(dirname(file)), basename(file)]).toEqual([join(home, releasesDir(NAME)), RELEASE_ENV_FILE]);
      expect(mode(file)).toBe(0o600);
      expect(statSync(file).uid).toBe(Number(execFileSync('id', ['-u', server.user], { encoding: 'utf8' })));
    }
    // Not in pm2's saved process list or logs, the agent's files, or any log of the stand-in.
    expect(filesContaining(join(home, '.pm2'), SECRET)).toEqual([]);
    expect(filesContaining(join(home, PORTSIDE_DIR), SECRET)).toEqual([]);
    expect(filesContaining('/var/lib/portside-local/log', SECRET)).toEqual([]);
  });

  test('the server\'s own secrets are private: ~/.ssh 0700, authorized_keys 0600, the registry 0600, every env file 0600', () => {
    expect(mode(join(home, '.ssh'))).toBe(0o700);
    expect(mode(join(home, '.ssh', 'authorized_keys'))).toBe(0o600);
    expect(mode(join(home, REGISTRY_FILE))).toBe(0o600);
    for (const svc of readdirSync(join(home, SERVICES_DIR))) {
      for (const rel of (() => { try { return readdirSync(join(home, releasesDir(svc))); } catch { return []; } })()) {
        const env = join(home, releaseDir(svc, rel), RELEASE_ENV_FILE);
        try {
          expect([svc, rel, mode(env)]).toEqual([svc, rel, 0o600]);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    }
  });

  test('the client\'s key and known-hosts files are private: 0600 files in 0700 folders', () => {
    const key = server.keyPath;
    expect(mode(key)).toBe(0o600);
    expect(mode(dirname(key))).toBe(0o700);
    const knownHosts = join(testHome, 'known_hosts.local');
    expect(mode(knownHosts)).toBe(0o600);
    expect(mode(testHome) & 0o077).toBe(0);
  });

  test('the private key never appears in the CLI\'s output or in any file the deploy wrote', () => {
    const body = readFileSync(server.keyPath, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'))[1];
    expect(body.length).toBeGreaterThan(20);
    expect(output).not.toContain(body);
    expect(filesContaining(home, body)).toEqual([]);
    expect(filesContaining('/var/lib/portside-local/log', body)).toEqual([]);
  });
});
