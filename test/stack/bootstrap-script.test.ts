import { spawn, spawnSync } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ASSETS_DIR, readDefaultHomePage, SEED_METADATA_KEY, seedFiles } from '../../lib/bootstrap';
import { BIN_DIR, CURRENT_LINK, DECLARED_FILE, PORTSIDE_DIR, REGISTRY_FILE, RELEASES_SUBDIR, SERVICES_DIR } from '../../lib/remote/layout';
import { configOf, onlyResource, templateOf } from './helpers';

const SCRIPT = join(ASSETS_DIR, 'bootstrap.sh');

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

// A missing linter skips the test where jest counts it ("1 skipped"), not a silent pass.
const hasShellcheck = has('shellcheck');
if (!hasShellcheck) console.warn('bootstrap.sh lint skipped: shellcheck is not installed (apt-get install shellcheck)');
(hasShellcheck ? test : test.skip)('assets/bootstrap.sh is shellcheck-clean', () => {
  const r = spawnSync('shellcheck', ['--severity=style', SCRIPT], { encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});

/** A free loopback TCP port (bound and released; good enough for a test). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Every path under a folder with its type, mode, owner and content (or link target). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    const st = lstatSync(p);
    const key = p.slice(dir.length) || '/';
    const what = st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isDirectory() ? 'dir' : readFileSync(p, 'utf8');
    out[key] = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs} ${what}`;
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
  };
  walk(dir);
  return out;
}

const canRun = process.getuid?.() === 0 && has('caddy') && has('curl');
const describeLocal = canRun ? describe : describe.skip;
if (!canRun) console.warn('bootstrap --local tests skipped: they need root, caddy and curl');

describeLocal('bootstrap.sh --local with a real Caddy', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let admin: string;
  let url: string;
  const homePage = readDefaultHomePage();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'portside-bootstrap-'));
    const [adminPort, httpPort] = [await freePort(), await freePort()];
    admin = `127.0.0.1:${adminPort}`;
    url = `http://127.0.0.1:${httpPort}/`;
    const www = join(root, 'www');
    const caddyDir = join(root, 'etc');
    const seedDir = join(root, 'seed');
    mkdirSync(seedDir);
    const files = seedFiles(configOf({ routing: 'path' }), homePage, { www, caddyfile: join(caddyDir, 'Caddyfile') });
    // The real rendered Caddyfile, moved off the ports a system Caddy or another test may hold.
    const caddyfile = files.Caddyfile
      .replace('{\n', `{\n\tadmin ${admin}\n\thttp_port ${httpPort}\n\tauto_https off\n`)
      .replace(/^:80 \{$/m, `:${httpPort} {`);
    writeFileSync(join(seedDir, 'registry.json'), files['registry.json']);
    writeFileSync(join(seedDir, 'Caddyfile'), caddyfile);
    writeFileSync(join(seedDir, 'index.html'), files['index.html']);
    env = {
      ...process.env,
      PORTSIDE_USER: 'root',
      PORTSIDE_HOME: join(root, 'home'),
      PORTSIDE_WWW: www,
      PORTSIDE_CADDY_DIR: caddyDir,
      PORTSIDE_SEED_DIR: seedDir,
      PORTSIDE_CADDY_ADMIN: admin,
      PORTSIDE_HTTP_CHECK_URL: url,
      PORTSIDE_CADDY_LOG: join(root, 'caddy.log'),
      XDG_DATA_HOME: join(root, 'xdg-data'),
      XDG_CONFIG_HOME: join(root, 'xdg-config'),
    };
    mkdirSync(env.PORTSIDE_HOME!);
  });

  afterAll(() => {
    if (!root) return;
    spawnSync('caddy', ['stop', '--address', admin], { env, stdio: 'ignore', timeout: 10_000 });
    rmSync(root, { recursive: true, force: true });
  });

  const run = () => spawnSync('bash', [SCRIPT, '--local'], { env, encoding: 'utf8', timeout: 30_000 });

  test('lays out the server, starts Caddy and serves the home page', async () => {
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const home = env.PORTSIDE_HOME!;
    expect(readFileSync(join(home, REGISTRY_FILE), 'utf8')).toBe(readFileSync(join(env.PORTSIDE_SEED_DIR!, 'registry.json'), 'utf8'));
    for (const dir of [PORTSIDE_DIR, BIN_DIR, SERVICES_DIR]) expect(statSync(join(home, dir)).isDirectory()).toBe(true);
    expect(readlinkSync(join(env.PORTSIDE_WWW!, CURRENT_LINK))).toBe(join(RELEASES_SUBDIR, 'initial'));
    expect(statSync(join(env.PORTSIDE_WWW!, RELEASES_SUBDIR, 'initial', 'index.html')).mode & 0o777).toBe(0o644);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(homePage);
  });

  test('running it again changes nothing', () => {
    const before = snapshot(root + '/home');
    const www = snapshot(env.PORTSIDE_WWW!);
    const etc = readFileSync(join(env.PORTSIDE_CADDY_DIR!, 'Caddyfile'), 'utf8');
    const r = run();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('reloaded the running Caddy');
    expect(snapshot(root + '/home')).toEqual(before);
    expect(snapshot(env.PORTSIDE_WWW!)).toEqual(www);
    expect(readFileSync(join(env.PORTSIDE_CADDY_DIR!, 'Caddyfile'), 'utf8')).toBe(etc);
  });

  test('never clobbers a live registry, Caddyfile or site', () => {
    const registry = join(env.PORTSIDE_HOME!, REGISTRY_FILE);
    const live = readFileSync(registry, 'utf8').replace('"simon": 3000', '"simon": 3005');
    writeFileSync(registry, live);
    const r = run();
    expect(r.status).toBe(0);
    expect(readFileSync(registry, 'utf8')).toBe(live);
    expect(r.stdout).toContain(`kept ${registry} (exists)`);
    expect(r.stdout).toContain(`kept ${env.PORTSIDE_WWW}/current (exists)`);
  });

  test('the live registry is the deploy user\'s alone (0600), also when an older bootstrap left it 0644', () => {
    const registry = join(env.PORTSIDE_HOME!, REGISTRY_FILE);
    expect(statSync(registry).mode & 0o777).toBe(0o600);
    chmodSync(registry, 0o644);
    const kept = readFileSync(registry, 'utf8');
    expect(run().status).toBe(0);
    expect(statSync(registry).mode & 0o777).toBe(0o600);
    expect(readFileSync(registry, 'utf8')).toBe(kept);
  });

  test('refuses a seed Caddyfile that Caddy rejects, and says which file', () => {
    const dir = mkdtempSync(join(root, 'bad-'));
    for (const f of ['registry.json', 'index.html']) writeFileSync(join(dir, f), 'x');
    writeFileSync(join(dir, 'Caddyfile'), ':1 {\n\tnot_a_directive\n}\n');
    const r = spawnSync('bash', [SCRIPT, '--local'], {
      env: { ...env, PORTSIDE_SEED_DIR: dir, PORTSIDE_CADDY_DIR: join(dir, 'etc'), PORTSIDE_HOME: join(dir, 'home'), PORTSIDE_WWW: join(dir, 'www') },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${dir}/etc/Caddyfile is not a valid Caddyfile`);
  });
});

test('refuses to run without its settings, naming the missing one', () => {
  const r = spawnSync('bash', [SCRIPT, '--local'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('PORTSIDE_USER');
});

test('refuses an unknown flag with its usage', () => {
  const r = spawnSync('bash', [SCRIPT, '--remote'], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('usage: bootstrap.sh [--local | --declared | --build-user]');
});

const canDeclare = process.getuid?.() === 0 && has('jq');
(canDeclare ? describe : describe.skip)('bootstrap.sh --declared (what cfn-hup runs after a cdk deploy)', () => {
  let root: string;
  afterAll(() => root && rmSync(root, { recursive: true, force: true }));

  test('writes the declared registry and Caddyfile from the instance metadata beside the live ones', () => {
    root = mkdtempSync(join(tmpdir(), 'portside-declared-'));
    const { id, resource } = onlyResource(templateOf({ domain: 'example.click' }), 'AWS::EC2::Instance');
    const metadata = resource.Metadata[SEED_METADATA_KEY];
    const bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(root, 'metadata.json'), JSON.stringify(metadata));
    // A stand-in for cfn-get-metadata that insists on the arguments the real one needs.
    writeFileSync(join(bin, 'cfn-get-metadata'), [
      '#!/bin/bash',
      `[ "$*" = "--stack Portside --resource ${id} --region us-east-1 --key Portside" ] || { echo "unexpected args: $*" >&2; exit 3; }`,
      `cat '${join(root, 'metadata.json')}'`,
      '',
    ].join('\n'), { mode: 0o755 });
    const caddyDir = join(root, 'etc');
    mkdirSync(caddyDir);
    writeFileSync(join(caddyDir, 'Caddyfile'), 'live\n');
    const r = spawnSync('bash', [SCRIPT, '--declared'], {
      env: {
        PATH: process.env.PATH, PORTSIDE_USER: 'root', PORTSIDE_HOME: root, PORTSIDE_WWW: join(root, 'www'), PORTSIDE_CADDY_DIR: caddyDir,
        PORTSIDE_STACK: 'Portside', PORTSIDE_REGION: 'us-east-1', PORTSIDE_RESOURCE: id,
        PORTSIDE_CFN_BIN: bin, PORTSIDE_LOG: join(root, 'bootstrap.log'),
      },
      encoding: 'utf8',
    });
    expect([r.status, readFileSync(join(root, 'bootstrap.log'), 'utf8')]).toEqual([0, expect.stringContaining('updated')]);
    expect(readFileSync(join(caddyDir, DECLARED_FILE), 'utf8')).toBe(metadata.files['registry.json']);
    expect(statSync(join(caddyDir, DECLARED_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(caddyDir, 'declared.Caddyfile'), 'utf8')).toBe(metadata.files.Caddyfile);
    expect(readFileSync(join(caddyDir, 'Caddyfile'), 'utf8')).toBe('live\n');
  });
});

const canSimulate = process.getuid?.() === 0 && has('unshare') && has('jq') && has('python3');
(canSimulate ? describe : describe.skip)('bootstrap.sh on EC2, failing early (simulated)', () => {
  test('signals the boot wait condition at once, with the failing step, the command and the log\'s last lines', async () => {
    const root = mkdtempSync(join(tmpdir(), 'portside-ec2-'));
    const bodies: string[] = [];
    // The wait condition handle's presigned URL, stood in for by a loopback server.
    const sink = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { bodies.push(`${req.method} ${body}`); res.end(); });
    });
    try {
      await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
      const bin = join(root, 'bin');
      mkdirSync(bin);
      const stub = (name: string, body: string) => writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
      stub('apt-get', 'exit 0');
      // `python3 -m venv DIR` makes a venv whose CloudFormation helpers are stubs; the metadata is broken.
      // Anything else is the real python3 (the signal's JSON is encoded with it).
      stub('python3', [
        '[ "$1" = -m ] || exec /usr/bin/python3 "$@"',
        'mkdir -p "$3/bin"',
        'printf \'#!/bin/bash\\n\' > "$3/bin/pip"',
        'printf \'#!/bin/bash\\necho "{not json"\\n\' > "$3/bin/cfn-get-metadata"',
        'for t in cfn-signal cfn-hup cfn-init; do printf \'#!/bin/bash\\n\' > "$3/bin/$t"; done',
        'chmod +x "$3"/bin/*',
      ].join('\n'));
      const env = {
        PATH: `${bin}:${process.env.PATH}`, PORTSIDE_LOG: join(root, 'log'), PORTSIDE_STACK: 'Portside', PORTSIDE_REGION: 'us-east-1',
        PORTSIDE_RESOURCE: 'ServerInstanceX', PORTSIDE_USER: 'root', PORTSIDE_HOME: join(root, 'home'), PORTSIDE_WWW: join(root, 'www'),
        PORTSIDE_CADDY_DIR: join(root, 'etc'), PORTSIDE_PUBLIC_PORTS: '22 80 443',
        PORTSIDE_SIGNAL_URL: `http://127.0.0.1:${(sink.address() as { port: number }).port}/handle`,
      };
      // A private mount namespace: /opt (the helpers' venv) and /var/lib (the seed) are scratch tmpfs.
      const status = await new Promise<number>((resolve) => {
        const child = spawn('unshare', ['-m', 'bash', '-c', `mount -t tmpfs none /opt && mount -t tmpfs none /var/lib && exec bash ${SCRIPT}`], {
          env, stdio: ['ignore', 'ignore', 'ignore'],
        });
        child.on('close', (code) => resolve(code ?? -1));
      });
      expect(status).not.toBe(0);
      expect(bodies).toHaveLength(1);
      expect(bodies[0].startsWith('PUT ')).toBe(true);
      const signal = JSON.parse(bodies[0].slice(4));
      expect(signal).toEqual(expect.objectContaining({ Status: 'FAILURE', UniqueId: 'portside-boot' }));
      expect(signal.Reason).toMatch(/^Portside bootstrap failed at step "fetch_declared" \(line \d+: jq .*\); last lines of .*\/log: /);
      expect(signal.Reason).toContain('step: fetch_declared');
    } finally {
      sink.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
