/**
 * Fault injection against the shared local stand-in server. Every case ends with the same proof:
 * the previous version still answers through Caddy with its old content (or the new one, where the
 * deploy had committed), the registry, Caddyfile and this suite's pm2 processes are what they were,
 * no lock is left that blocks the next deploy, and a following deploy succeeds.
 *
 * The deploy runs as a real child process (`node bin/portside.js deploy-service …`); its stderr step
 * markers (`→ upload`, `→ install`, …) say when to strike.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCaddyfile } from '../../lib/caddy';
import { parseRegistry } from '../../lib/registry';
import { currentLink, releasesDir } from '../../lib/remote/layout';
import { cli, testHome } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { sampleAppSaying } from '../support/sample-app';
import { lockOwner, pm2Processes, serviceUrl, snapshot, userHome, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e fault tests skipped: ${why}`);

const ROOT = join(__dirname, '..', '..');

/** Agent modules bundled into one file the server's user can read (the agent itself ships as one bundle). */
function agentModules(entries: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'portside-agent-modules-'));
  chmodSync(dir, 0o755);
  const contents = Object.entries(entries).map(([name, file]) => `exports.${name} = require(${JSON.stringify(join(ROOT, file))});`).join('\n');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('esbuild').buildSync({ stdin: { contents, resolveDir: ROOT, loader: 'js' }, bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: join(dir, 'modules.js'), logLevel: 'warning' });
  chmodSync(join(dir, 'modules.js'), 0o644);
  return join(dir, 'modules.js');
}
const SERVICES = join(ROOT, 'test', 'fixtures', 'services');
const NAME = 'fault-app';
const OTHER = 'fault-two';
const work = mkdtempSync(join(tmpdir(), 'portside-faults-'));

/** The sample service, saying `text` so each version is recognisable through Caddy. */
const appSaying = sampleAppSaying(work);

/** The express fixture (real dependencies: the install step takes seconds), saying `text`. */
function expressSaying(text: string): string {
  const dir = mkdtempSync(join(work, 'express-'));
  cpSync(join(SERVICES, 'express-app'), dir, { recursive: true, filter: (p) => !p.includes('node_modules') });
  const file = join(dir, 'index.js');
  writeFileSync(file, readFileSync(file, 'utf8').replace('says ${process.env.GREETING || \'hi\'}', `says ${text}`));
  return dir;
}

interface ChildRun { code: number | null; signal: NodeJS.Signals | null; err: string }

/** Run the real CLI as a child process; `at` strikes once when stderr shows `→ <step>`. */
function deployChild(name: string, dir: string, at?: { step: string; strike: (child: ChildProcess) => void | Promise<void> }): Promise<ChildRun> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'portside.js'), 'deploy-service', name, '--dir', dir, '--target', 'local', '--health-timeout', '5'], {
    env: { ...process.env, PORTSIDE_HOME: testHome, PORTSIDE_TARGET: 'local' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let struck = false;
  child.stderr!.on('data', (d) => {
    err += d;
    if (at && !struck && err.split('\n').some((l) => l.trim() === `→ ${at.step}`)) {
      struck = true;
      void at.strike(child);
    }
  });
  child.stdout!.resume();
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, err })));
}

/** The agent of a killed CLI carries on: wait until no lock of ours is held, then check none is left behind. */
async function agentsFinished(server: LocalServer): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const owner = lockOwner(server);
    if (!owner || !/fault-/.test(owner.what)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const owner = lockOwner(server);
  // Whatever lock exists now belongs to a live agent (another suite's deploy), never to a dead one.
  if (owner) expect(existsSync(`/proc/${owner.pid}`)).toBe(true);
  expect(owner?.what ?? '').not.toMatch(/fault-/);
}

/** This suite's part of the server: its registry entries, the Caddyfile's agreement with the registry, its pm2 lines (pids included). */
function ours(server: LocalServer) {
  const s = snapshot(server);
  const registry = parseRegistry(s.registry);
  return {
    full: s,
    services: Object.fromEntries(Object.entries(registry.services).filter(([n]) => n.startsWith('fault-'))),
    others: Object.fromEntries(Object.entries(registry.services).filter(([n]) => !n.startsWith('fault-'))),
    caddyfileMatches: s.caddyfile === renderCaddyfile(registry),
    processes: s.processes.split('\n').filter((l) => l.startsWith('fault-')).join('\n'),
    release: existsSync(join(userHome(server), currentLink(NAME))) ? current(server, NAME) : null,
  };
}

/**
 * GET through Caddy. Caddy 2.6.2 answers a TLS handshake with an "internal error" alert for a moment
 * while a reload (anyone's, on this shared server) swaps certificates in: retry those for a few seconds.
 */
async function page(server: LocalServer, name: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return (await viaCaddy(server, serviceUrl(server, name))).body;
    } catch (e) {
      if (Date.now() > deadline || !/EPROTO|ECONNRESET|alert/.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const current = (server: LocalServer, name: string) => readlinkSync(join(userHome(server), currentLink(name)));

/** The proof every case ends with. */
async function expectIntact(server: LocalServer, before: ReturnType<typeof ours>, oldText: string, newText?: string, o: { restarted?: boolean } = {}): Promise<'old' | 'new'> {
  await agentsFinished(server);
  const body = await page(server, NAME);
  const after = ours(server);
  expect(after.caddyfileMatches).toBe(true);
  expect(after.services).toEqual(before.services);
  let outcome: 'old' | 'new';
  if (newText && body.includes(newText)) {
    outcome = 'new';
    expect(after.processes).toMatch(new RegExp(`^${NAME} \\d+ \\d+ online$`, 'm'));
  } else {
    outcome = 'old';
    expect(body).toContain(oldText);
    expect(current(server, NAME)).toBe(before.release);
    // A failure after the switch starts the previous release again (new pid, same name, port, status).
    if (o.restarted) expect(after.processes.replace(/ \d+ (\w+)$/gm, ' $1')).toBe(before.processes.replace(/ \d+ (\w+)$/gm, ' $1'));
    else expect(after.processes).toBe(before.processes);
    // Byte for byte, whenever no other suite changed the registry meanwhile.
    if (JSON.stringify(after.others) === JSON.stringify(before.others)) {
      expect(after.full.registry).toBe(before.full.registry);
      expect(after.full.caddyfile).toBe(before.full.caddyfile);
    }
  }
  // No half-made release is left next to the current one once the next deploy has recovered.
  return outcome;
}

describeE2E('fault injection against the local server', () => {
  let server: LocalServer;
  let seq = 0;
  /** Put the baseline back (this is also every case's "a following deploy succeeds"). */
  const baseline = async (): Promise<ReturnType<typeof ours>> => {
    const text = `fault baseline ${++seq}`;
    const r = await cli('deploy-service', NAME, '--dir', appSaying(text), '--target', 'local');
    expect(r.err).not.toMatch(/portside deploy-service:/);
    expect(r).toExitWith(0);
    expect(await page(server, NAME)).toContain(text);
    serving = text;
    return ours(server);
  };
  let serving = '';

  beforeAll(async () => {
    server = await ensureLocalServer();
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    await cli('remove-service', OTHER, '--purge', '--target', 'local');
  }, 120_000);

  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    await cli('remove-service', OTHER, '--purge', '--target', 'local');
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  describe.each(['SIGKILL', 'SIGINT'] as const)('the deploy process killed with %s', (signal) => {
    test.each(['upload', 'install', 'probe', 'switch', 'verify'])(`at → %s`, async (step) => {
      const before = await baseline();
      const old = serving;
      const next = `killed at ${step} ${signal}`;
      // A 40 MB file keeps the upload going when the signal lands; express makes install take seconds.
      const dir = step === 'install' ? expressSaying(next) : appSaying(next, step === 'upload' ? (d) => writeFileSync(join(d, 'blob.bin'), randomBytes(40 * 2 ** 20)) : undefined);
      const run = await deployChild(NAME, dir, { step, strike: (c) => { c.kill(signal); } });
      expect(run.signal ?? run.code).toBeTruthy();
      const outcome = await expectIntact(server, before, old, next);
      // An upload cut short can never commit; later steps are finished by the agent on its own.
      if (step === 'upload') expect(outcome).toBe('old');
      await baseline();
    }, 120_000);
  });

  describe('the SSH connection cut (the session\'s sshd process killed)', () => {
    /** Kill the sshd process serving this child's connection, and only that one: other suites share the server. */
    function cutSshOf(child: ChildProcess): void {
      const mine = execFileSync('ss', ['-tnpH', 'state', 'established', 'dst', `${server.address}:${server.sshPort}`], { encoding: 'utf8' })
        .split('\n').filter((l) => l.includes(`pid=${child.pid},`));
      expect(mine.length).toBeGreaterThan(0);
      for (const line of mine) {
        const localPort = line.trim().split(/\s+/)[2].split(':').pop();
        const server = execFileSync('ip', ['netns', 'exec', 'portside', 'ss', '-tnpH', 'state', 'established', 'dst', `10.77.0.1:${localPort}`], { encoding: 'utf8' });
        for (const pid of [...server.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]))) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone with its sibling
          }
        }
      }
    }

    test.each(['upload', 'install', 'verify'])('during %s', async (step) => {
      const before = await baseline();
      const old = serving;
      const next = `ssh cut at ${step}`;
      const dir = step === 'install' ? expressSaying(next) : appSaying(next, step === 'upload' ? (d) => writeFileSync(join(d, 'blob.bin'), randomBytes(40 * 2 ** 20)) : undefined);
      const run = await deployChild(NAME, dir, { step, strike: cutSshOf });
      // verify takes ~0.1 s: the cut may land after the deploy finished, which the proof below accepts.
      if (step !== 'verify') expect(run.code).not.toBe(0);
      const outcome = await expectIntact(server, before, old, next);
      if (step === 'upload') expect(outcome).toBe('old');
      await baseline();
    }, 120_000);
  });

  test('sshd restarting mid-command (SIGHUP to the listener) does not disturb a deploy in flight', async () => {
    await baseline();
    const next = 'through an sshd restart';
    const pidFile = '/var/lib/portside-local/sshd/sshd.pid';
    const run = await deployChild(NAME, expressSaying(next), { step: 'install', strike: () => { process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGHUP'); } });
    expect(run.err).not.toMatch(/portside deploy-service:/);
    expect(run).toExitWith(0);
    expect(await page(server, NAME)).toContain(next);
    await agentsFinished(server);
    await baseline();
  }, 120_000);

  test('a killed agent leaves a stale lock that the next deploy recovers, with a message, removing its half-made release', async () => {
    const before = await baseline();
    const old = serving;
    const run = await deployChild(NAME, expressSaying('agent killed'), {
      step: 'install',
      strike: () => {
        const owner = lockOwner(server);
        expect(owner?.what).toBe(`deploy-service ${NAME}`);
        process.kill(owner!.pid, 'SIGKILL');
      },
    });
    expect(run.code).not.toBe(0);
    // The lock is left behind, its owner dead.
    const owner = lockOwner(server)!;
    expect(owner.what).toBe(`deploy-service ${NAME}`);
    expect(existsSync(`/proc/${owner.pid}`)).toBe(false);
    expect(await page(server, NAME)).toContain(old);
    const releases = readdirSync(join(userHome(server), releasesDir(NAME)));
    const next = await cli('deploy-service', NAME, '--dir', appSaying('after recovery'), '--target', 'local');
    expect(next.code).toBe(0);
    expect(next.err).toMatch(/recovered a stale deploy lock: \S+ started "deploy-service fault-app" at \S+ and was killed before it finished/);
    expect(next.err).toMatch(/removed unfinished releases left by the killed deploy: fault-app\/\S+/);
    const orphan = releases.find((id) => next.err.includes(`fault-app/${id}`));
    expect(orphan).toBeDefined();
    expect(readdirSync(join(userHome(server), releasesDir(NAME)))).not.toContain(orphan);
    expect(ours(server).services).toEqual(before.services);
    await baseline();
  }, 120_000);

  test('two deploys of the same service at once: one waits for the lock, both finish, the last one serves', async () => {
    const before = await baseline();
    const [a, b] = await Promise.all([deployChild(NAME, appSaying('same at once A')), deployChild(NAME, appSaying('same at once B'))]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(`${a.err}\n${b.err}`).toMatch(/waiting for the deploy lock: \S+ is running "deploy-service fault-app"/);
    expect(await page(server, NAME)).toMatch(/same at once [AB]/);
    await agentsFinished(server);
    expect(ours(server).services).toEqual(before.services);
    expect(ours(server).caddyfileMatches).toBe(true);
    await baseline();
  }, 120_000);

  test('two services deployed at once both end up routed and serving', async () => {
    await baseline();
    const [a, b] = await Promise.all([deployChild(NAME, appSaying('pair one')), deployChild(OTHER, appSaying('pair two'))]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(await page(server, NAME)).toContain('pair one');
    expect(await page(server, OTHER)).toContain('pair two');
    const now = ours(server);
    expect(Object.keys(now.services).sort()).toEqual([NAME, OTHER]);
    expect(now.caddyfileMatches).toBe(true);
    expect((await cli('remove-service', OTHER, '--purge', '--target', 'local')).code).toBe(0);
    await baseline();
  }, 120_000);

  test.each([
    ['crashes at start', 'crash', /crashed at start/],
    ['never listens', 'never-listens', /never listened on its port within 5s/],
    ['listens on the wrong port', 'wrong-port', /listens on port 8089, not on the port it was given/],
    ['exits after passing its first health check', 'exits-after-answer', /stopped running right after it started answering/],
  ])('a new release that %s is refused and the old one keeps serving', async (what, fixture, message) => {
    const before = await baseline();
    const run = await deployChild(NAME, join(SERVICES, fixture));
    expect(run.code).not.toBe(0);
    expect(run.err).toMatch(message);
    expect(await expectIntact(server, before, serving, undefined, { restarted: what.startsWith('exits') })).toBe('old');
    await baseline();
  }, 120_000);

  // Opt-in: on Caddy 2.6.2 a reload refused for a taken port leaks the new config's :80/:443 listeners
  // (SO_REUSEPORT), and most later HTTPS handshakes fail until Caddy restarts. `portside doctor` reports
  // it (sockets.duplicate.443). Portside's own Caddyfiles never add ports, so deploys cannot trigger it;
  // this case does, so it is not run on the shared server unless asked for.
  const caddyRefusal = process.env.PORTSIDE_FAULTS_CADDY_REFUSAL === '1' ? test : test.skip;
  caddyRefusal('Caddy refusing a config that validates but cannot load (its port is taken) keeps the old config and files', async () => {
    const before = await baseline();
    const home = userHome(server);
    // The agent ships as one bundle: the lock and route modules are bundled from lib/agent for this script.
    const bin = agentModules({ lock: 'lib/agent/lock.ts', routes: 'lib/agent/routes.ts' });
    const rogue = spawn('ip', ['netns', 'exec', 'portside', 'node', '-e', "require('net').createServer().listen(7778, () => console.log('up'))"], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => rogue.stdout!.once('data', r));
    // The agent's own route change, under the agent's own lock: the candidate adds a site on the taken port.
    const script = `const { lock, routes } = require(${JSON.stringify(bin)});
      const fs = require('fs');
      (async () => {
        await lock.acquire('faults-test', 'caddy refusal (${NAME})', 60000);
        try {
          const reg = routes.readRegistryText();
          const caddyfile = fs.readFileSync(JSON.parse(reg).paths.caddyfile, 'utf8') + ':7778 {\\n\\trespond "never"\\n}\\n';
          await routes.applyRoutes(reg, caddyfile).then(() => console.log('APPLIED'), (e) => console.log('REFUSED', e.code, e.message));
        } finally { lock.release(); }
      })();`;
    try {
      const out = execFileSync('ip', ['netns', 'exec', 'portside', 'runuser', '-u', server.user, '--', 'env', `HOME=${home}`, 'PATH=/usr/local/bin:/usr/bin:/bin', 'node', '-e', script], { encoding: 'utf8' });
      expect(out).toMatch(/REFUSED CADDY_RELOAD Caddy refused to load the new configuration and kept the old one; the registry and Caddyfile were put back/);
    } finally {
      rogue.kill('SIGKILL');
      rmSync(join(bin, '..'), { recursive: true, force: true });
    }
    expect(await expectIntact(server, before, serving)).toBe('old');
    await baseline();
  }, 120_000);

  test('the disk filling up during upload fails the deploy, leaves no partial release, and the old release keeps serving', async () => {
    const before = await baseline();
    const releases = join(userHome(server), releasesDir(NAME));
    // `ip netns exec` gave sshd a mount namespace of its own, and pm2 another: a 4 MiB filesystem over
    // the releases folder, as the deploy's SSH session sees it, fills up while pm2 keeps serving the old release.
    const asSessions = (argv: string[]) => execFileSync('nsenter', ['-t', readFileSync('/var/lib/portside-local/sshd/sshd.pid', 'utf8').trim(), '-m', ...argv], { encoding: 'utf8' });
    asSessions(['mount', '-t', 'tmpfs', '-o', `size=4m,uid=${execFileSync('id', ['-u', server.user], { encoding: 'utf8' }).trim()},mode=0755`, 'tmpfs', releases]);
    try {
      const run = await deployChild(NAME, appSaying('too big', (d) => writeFileSync(join(d, 'blob.bin'), randomBytes(8 * 2 ** 20))));
      expect(run.code).not.toBe(0);
      expect(run.err).toMatch(/upload failed: nothing was switched/);
      expect(run.err).toMatch(/No space left on device/);
      await agentsFinished(server);
      // The partial release is gone: a full disk is not left full by the failed deploy.
      expect(asSessions(['ls', '-A', releases]).trim()).toBe('');
    } finally {
      asSessions(['umount', '-l', releases]);
    }
    expect(await expectIntact(server, before, serving)).toBe('old');
    await baseline();
  }, 120_000);

  test('the server "reboots" its processes: pm2 kill, then pm2 resurrect brings every service back', async () => {
    await baseline();
    const before = pm2Processes(server).split('\n').filter(Boolean).map((l) => l.split(' ')).filter(([, , , status]) => status === 'online').map(([name, port]) => `${name} ${port}`);
    expect(before).toContain(`${NAME} ${JSON.parse(snapshot(server).registry).services[NAME]}`);
    const asUser = (cmd: string) => execFileSync('ip', ['netns', 'exec', 'portside', 'su', '-', server.user, '-c', cmd], { encoding: 'utf8' });
    try {
      asUser('pm2 kill');
    } finally {
      asUser('pm2 resurrect');
    }
    const after = pm2Processes(server).split('\n').filter(Boolean).map((l) => l.split(' ')).filter(([, , , status]) => status === 'online').map(([name, port]) => `${name} ${port}`);
    expect(after).toEqual(expect.arrayContaining(before));
    const deadline = Date.now() + 20_000;
    let body = '';
    while (Date.now() < deadline && !body.includes(serving)) {
      body = await page(server, NAME).catch(() => '');
    }
    expect(body).toContain(serving);
  }, 120_000);
});
