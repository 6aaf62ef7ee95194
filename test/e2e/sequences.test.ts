/**
 * What runs is what you deployed — across sequences of operations, not one at a time.
 *
 * First, the sequences that broke (each failed before release manifests were written per release):
 * a redeploy after a rollback, and after a failed deploy, served the old code and said "up to date".
 *
 * Then a model-based test (fast-check's model-based commands): random sequences of deploys (new
 * content, the same content, `--force`, a broken release, a killed CLI), rollbacks, removals, a
 * process stopped by hand and a release manifest lost, over two services on the stand-in. After every
 * step the server must agree with a small model: what each service serves through Caddy is what the
 * model says was last deployed or rolled back to, the other service is untouched, and the registry,
 * the Caddyfile, pm2 and the release manifests agree; `services` tells the truth after every step and
 * `doctor` at the end of each sequence.
 *
 *   short run (npm test):  20 sequences
 *   long run:              PORTSIDE_SEQ_RUNS=500 npx jest test/e2e/sequences.test.ts
 *   replay a failure:      PORTSIDE_SEQ_SEED=<seed> PORTSIDE_SEQ_PATH=<path> npx jest test/e2e/sequences.test.ts -t model
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { renderCaddyfile } from '../../lib/caddy';
import { parseRegistry } from '../../lib/registry';
import { currentLink, KEEP_RELEASES, RELEASE_MANIFEST, releaseDir, releasesDir } from '../../lib/remote/layout';
import { cli, testHome } from '../support/cli';
import { sampleAppSaying } from '../support/sample-app';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { lockOwner, pm2Processes, serviceUrl, snapshot, userHome, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e sequence tests skipped: ${why}`);

const ROOT = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'portside-seq-'));
const SERVICES = ['seq-a', 'seq-b'] as const;
type Service = (typeof SERVICES)[number];

/** The sample service, saying `text`; `broken` makes it exit at start (a release that must be refused). */
const sampleSaying = sampleAppSaying(work);
function appSaying(text: string, opts: { broken?: boolean; failIfExists?: string } = {}): string {
  return sampleSaying(text, (dir) => {
    const file = join(dir, 'index.js');
    let code = readFileSync(file, 'utf8');
    if (opts.broken) code = `process.exit(3);\n${code}`;
    // The stand-in shares this machine's filesystem: a flag file here makes the release fail there.
    if (opts.failIfExists) code = `if (require('fs').existsSync(${JSON.stringify(opts.failIfExists)})) process.exit(4);\n${code}`;
    writeFileSync(file, code);
  });
}

const deploy = (name: string, dir: string, ...more: string[]) => cli('deploy-service', name, '--dir', dir, '--target', 'local', '--health-timeout', '5', ...more);

/**
 * GET through Caddy: the body, or the failure as text. Caddy 2.6.2 answers a TLS handshake with an
 * "internal error" alert for a moment while any reload swaps certificates in: those are retried.
 */
async function served(server: LocalServer, name: string, routed = true): Promise<string> {
  // A name with no site has no certificate either: its handshake fails for good, not for a moment.
  const deadline = Date.now() + (routed ? 10_000 : 0);
  for (;;) {
    try {
      const r = await viaCaddy(server, serviceUrl(server, name));
      return r.status === 200 ? r.body : `HTTP ${r.status}`;
    } catch (e) {
      if (Date.now() > deadline || !/EPROTO|ECONNRESET|alert/.test((e as Error).message)) return `error ${(e as Error).message}`;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const currentRelease = (server: LocalServer, name: string): string | null => {
  try {
    return readlinkSync(join(userHome(server), currentLink(name))).split('/').pop()!;
  } catch {
    return null;
  }
};

describeE2E('sequences of operations', () => {
  let server: LocalServer;

  beforeAll(async () => {
    server = await ensureLocalServer();
    for (const s of SERVICES) await cli('remove-service', s, '--purge', '--target', 'local');
  }, 180_000);

  afterAll(async () => {
    for (const s of SERVICES) await cli('remove-service', s, '--purge', '--target', 'local');
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('a redeploy after a rollback serves the redeployed code (also with --force)', async () => {
    const a = appSaying('sequence A');
    const b = appSaying('sequence B');
    expect((await deploy('seq-a', a)).code).toBe(0);
    expect((await deploy('seq-a', b)).code).toBe(0);
    expect((await cli('rollback', 'seq-a', '--target', 'local')).code).toBe(0);
    expect(await served(server, 'seq-a')).toContain('sequence A');
    const again = await deploy('seq-a', b);
    expect(again.code).toBe(0);
    expect(again.out).not.toMatch(/up to date/);
    expect(await served(server, 'seq-a')).toContain('sequence B');
    expect((await cli('rollback', 'seq-a', '--target', 'local')).code).toBe(0);
    const forced = await deploy('seq-a', b, '--force');
    expect(forced.code).toBe(0);
    expect(await served(server, 'seq-a')).toContain('sequence B');
  }, 120_000);

  test('a redeploy after a failed deploy serves the redeployed code', async () => {
    // In the deploy user's home: this test's own temporary folders are closed to that user.
    const flag = join(userHome(server), 'seq-fail-now');
    writeFileSync(flag, '');
    expect((await deploy('seq-a', appSaying('before the failure'))).code).toBe(0);
    const b = appSaying('after the failure', { failIfExists: flag });
    const failed = await deploy('seq-a', b);
    expect(failed.code).not.toBe(0);
    expect(await served(server, 'seq-a')).toContain('before the failure');
    rmSync(flag);
    const again = await deploy('seq-a', b);
    expect(again.code).toBe(0);
    expect(again.out).not.toMatch(/up to date/);
    expect(await served(server, 'seq-a')).toContain('after the failure');
  }, 120_000);

  test('each release keeps its own manifest: older releases never claim a newer one\'s files', async () => {
    expect((await deploy('seq-a', appSaying('manifest one'))).code).toBe(0);
    expect((await deploy('seq-a', appSaying('manifest two'))).code).toBe(0);
    const releases = join(userHome(server), releasesDir('seq-a'));
    for (const id of readdirSync(releases).filter((n) => !n.startsWith('.'))) {
      expect(JSON.parse(readFileSync(join(releases, id, RELEASE_MANIFEST), 'utf8')).id).toBe(id);
      expect(manifestMatchesFiles(join(releases, id))).toBe('');
    }
  }, 120_000);

  test('model: random sequences of operations keep the server what the model says', async () => {
    const runs = Number(process.env.PORTSIDE_SEQ_RUNS || 20);
    const seed = process.env.PORTSIDE_SEQ_SEED ? Number(process.env.PORTSIDE_SEQ_SEED) : undefined;
    const stats = { sequences: 0, steps: 0 };
    await fc.assert(
      fc.asyncProperty(fc.commands(commandArbitraries(), { maxCommands: 10, size: 'large' }), async (cmds) => {
        stats.sequences++;
        const setup = async () => {
          for (const s of SERVICES) await cli('remove-service', s, '--purge', '--target', 'local');
          // Each sequence starts from the same state, so that a failing seed replays exactly: both
          // services deployed once (removing and deploying one is among the commands).
          const model: Model = { services: {} };
          for (const s of SERVICES) {
            const text = nextText(s);
            expect((await deploy(s, appSaying(text))).code).toBe(0);
            model.services[s] = { releases: [], history: [], current: '', lastDeployed: '', stopped: false };
            goLive(model.services[s]!, currentRelease(server, s)!, text);
          }
          return { model, real: { server, stats } };
        };
        await fc.asyncModelRun(setup, cmds);
        // doctor at the end of every sequence: healthy when every deployed service is running.
        const { model } = await setupModelOf(server);
        const doc = await cli('doctor', '--target', 'local', '--json');
        const report = JSON.parse(doc.out) as { results: Array<{ id: string; status: string; message: string }> };
        for (const s of SERVICES) {
          const checks = report.results.filter((c) => c.id.includes(s));
          if (model[s] === 'running') expect(checks.filter((c) => c.status === 'fail').map((c) => c.message)).toEqual([]);
          if (model[s] === 'stopped') expect(checks.some((c) => c.status === 'fail')).toBe(true);
        }
      }),
      { numRuns: runs, seed, path: process.env.PORTSIDE_SEQ_PATH, endOnFailure: true, verbose: 1 },
    );
    process.stderr.write(`[sequences] ${stats.sequences} sequences, ${stats.steps} steps\n`);
  }, Number(process.env.PORTSIDE_SEQ_RUNS || 20) * 60_000);
});

// ---------------------------------------------------------------- the model

interface Release {
  readonly id: string;
  readonly text: string;
  /** Its manifest was deleted by hand: Portside cannot tell how to start it, so it is no rollback target. */
  lost?: boolean;
}
interface ServiceModel {
  /** Releases still on the server, oldest first (the agent keeps the newest KEEP_RELEASES and the current one). */
  releases: Release[];
  /** The history the agent keeps: release ids in the order they went live (deploys and rollbacks). */
  history: string[];
  current: string;
  /** The text the folder last deployed says (what "the same content" redeploys). */
  lastDeployed: string;
  /** Stopped by hand: pm2 knows it, but it serves nothing. */
  stopped: boolean;
}
interface Model {
  services: Partial<Record<Service, ServiceModel>>;
}
interface Real {
  server: LocalServer;
  stats: { sequences: number; steps: number };
}

let counter = 0;
const nextText = (s: Service) => `${s} version ${++counter} ${Date.now().toString(36)}`;

function textOf(m: ServiceModel): string {
  return m.releases.find((r) => r.id === m.current)!.text;
}

/** Record a new live release as the agent does: history, then prune to the newest KEEP_RELEASES plus the current one. */
function goLive(m: ServiceModel, id: string, text: string): void {
  m.releases.push({ id, text });
  m.current = id;
  m.history.push(id);
  m.lastDeployed = text;
  m.stopped = false;
  const sorted = [...m.releases].sort((x, y) => x.id.localeCompare(y.id));
  const doomed = new Set(sorted.slice(0, Math.max(0, sorted.length - KEEP_RELEASES)).map((r) => r.id).filter((rid) => rid !== m.current));
  m.releases = m.releases.filter((r) => !doomed.has(r.id));
}

/** After every step: the server is what the model says. */
async function check(model: Model, real: Real): Promise<void> {
  real.stats.steps++;
  if (process.env.PORTSIDE_SEQ_TRACE) process.stderr.write(`[sequences] step ${real.stats.steps}: ${JSON.stringify(Object.fromEntries(Object.entries(model.services).map(([k, v]) => [k, v && { current: v.current, stopped: v.stopped }])))}\n`);
  const { server } = real;
  const state = snapshot(server);
  const registry = parseRegistry(state.registry);
  const caddyfile = state.caddyfile;
  expect(caddyfile).toBe(renderCaddyfile(registry));
  const procs = pm2Processes(server).split('\n');
  const status = await cli('services', '--target', 'local', '--json');
  const listed = JSON.parse(status.out) as Array<{ name: string; release: string | null; status: string; health: string | null }>;
  for (const s of SERVICES) {
    const m = model.services[s];
    const row = listed.find((x) => x.name === s);
    if (!m) {
      expect(registry.services[s]).toBeUndefined();
      expect(procs.some((l) => l.startsWith(`${s} `))).toBe(false);
      expect(await served(server, s, false)).not.toMatch(/version/);
      continue;
    }
    const port = registry.services[s];
    expect(port).toBeDefined();
    expect(currentRelease(server, s)).toBe(m.current);
    expect(row?.release).toBe(m.current);
    const dir = join(userHome(server), releaseDir(s, m.current));
    expect(manifestMatchesFiles(dir)).toBe('');
    if (m.stopped) {
      expect(procs.find((l) => l.startsWith(`${s} `))).toMatch(/ stopped$/);
      expect(row?.status).toBe('stopped');
      expect(row?.health).not.toMatch(/^ok/);
      expect(await served(server, s)).not.toContain(m.lastDeployed);
    } else {
      expect(procs.find((l) => l.startsWith(`${s} `))).toMatch(new RegExp(`^${s} ${port} \\d+ online$`));
      expect(row?.status).toBe('online');
      expect(row?.health).toBe('ok (200)');
      expect(await served(server, s)).toContain(textOf(m));
    }
  }
}

/**
 * The release's manifest names this release, and lists exactly the release's own files with their
 * hashes ('' when it does). node_modules and Portside's own files are not part of a manifest.
 */
function manifestMatchesFiles(dir: string): string {
  const id = dir.split('/').pop();
  let manifest: { id: string; files: Array<{ p: string; h: string }> };
  try {
    manifest = JSON.parse(readFileSync(join(dir, RELEASE_MANIFEST), 'utf8'));
  } catch (e) {
    return `no manifest: ${(e as Error).message}`;
  }
  if (manifest.id !== id) return `the manifest of ${id} names ${manifest.id}`;
  for (const f of manifest.files) {
    const file = join(dir, f.p);
    if (!existsSync(file)) return `${f.p} is listed but missing`;
    const h = createHash('sha256').update(readFileSync(file)).digest('hex');
    if (!h.startsWith(f.h) && h !== f.h) return `${f.p} differs from its manifest`;
  }
  return '';
}

/** What doctor should find: each service running, stopped, or absent (read from the server). */
async function setupModelOf(server: LocalServer): Promise<{ model: Record<Service, 'running' | 'stopped' | 'absent'> }> {
  const procs = pm2Processes(server).split('\n');
  const model = {} as Record<Service, 'running' | 'stopped' | 'absent'>;
  for (const s of SERVICES) {
    const line = procs.find((l) => l.startsWith(`${s} `));
    model[s] = !line ? 'absent' : line.endsWith(' online') ? 'running' : 'stopped';
  }
  return { model };
}

// ---------------------------------------------------------------- the commands

type Cmd = fc.AsyncCommand<Model, Real>;

class DeployNew implements Cmd {
  constructor(readonly s: Service, readonly force: boolean) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const text = nextText(this.s);
    const r = await deploy(this.s, appSaying(text), ...(this.force ? ['--force'] : []));
    expect(r.err).toBe(r.code === 0 ? r.err : '(a deploy of new content failed)');
    expect(r).toExitWith(0);
    const m = model.services[this.s] ?? { releases: [], history: [], current: '', lastDeployed: '', stopped: false };
    goLive(m, currentRelease(real.server, this.s)!, text);
    model.services[this.s] = m;
    await check(model, real);
  }
  toString = () => `deploy(${this.s}, new content${this.force ? ', --force' : ''})`;
}

/** Redeploy the content last deployed (not what a rollback put back): it must end up serving it. */
class DeploySame implements Cmd {
  constructor(readonly s: Service, readonly force: boolean) {}
  check = (m: Readonly<Model>) => !!m.services[this.s];
  async run(model: Model, real: Real) {
    const m = model.services[this.s]!;
    const before = m.current;
    const r = await deploy(this.s, appSaying(m.lastDeployed), ...(this.force ? ['--force'] : []));
    expect(r).toExitWith(0);
    const after = currentRelease(real.server, this.s)!;
    const upToDate = !this.force && !m.stopped && textOf(m) === m.lastDeployed;
    if (upToDate) {
      // Nothing to do, and it says so: the same release keeps serving, untouched.
      expect(r.out).toMatch(/up to date/);
      expect(after).toBe(before);
    } else {
      expect(r.out).not.toMatch(/up to date/);
      expect(after).not.toBe(before);
      goLive(m, after, m.lastDeployed);
    }
    await check(model, real);
  }
  toString = () => `deploy(${this.s}, same content${this.force ? ', --force' : ''})`;
}

class DeployBroken implements Cmd {
  constructor(readonly s: Service) {}
  check = (m: Readonly<Model>) => !!m.services[this.s] && !m.services[this.s]!.stopped;
  async run(model: Model, real: Real) {
    const r = await deploy(this.s, appSaying(nextText(this.s), { broken: true }));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/crashed at start/);
    await check(model, real);
  }
  toString = () => `deploy(${this.s}, broken release)`;
}

/** The CLI killed at a step: the agent finishes or rolls back; either outcome is fine, as long as it is whole. */
class DeployKilled implements Cmd {
  constructor(readonly s: Service, readonly at: 'upload' | 'probe' | 'switch' | 'verify') {}
  check = (m: Readonly<Model>) => !!m.services[this.s] && !m.services[this.s]!.stopped;
  async run(model: Model, real: Real) {
    const m = model.services[this.s]!;
    const text = nextText(this.s);
    await killedDeploy(this.s, appSaying(text), this.at);
    await agentDone(real.server);
    const now = currentRelease(real.server, this.s)!;
    if (now !== m.current) goLive(m, now, text);
    await check(model, real);
  }
  toString = () => `deploy(${this.s}, CLI killed at ${this.at})`;
}

class Rollback implements Cmd {
  constructor(readonly s: Service) {}
  check = (m: Readonly<Model>) => !!m.services[this.s] && !m.services[this.s]!.stopped;
  async run(model: Model, real: Real) {
    const m = model.services[this.s]!;
    const exists = new Set(m.releases.filter((r) => !r.lost).map((r) => r.id));
    const candidates = m.history.filter((id) => id !== m.current && exists.has(id));
    const r = await cli('rollback', this.s, '--target', 'local');
    if (!candidates.length) {
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/no earlier release/);
    } else {
      expect(r).toExitWith(0);
      const target = candidates[candidates.length - 1];
      expect(currentRelease(real.server, this.s)).toBe(target);
      m.current = target;
      m.history.push(target);
    }
    await check(model, real);
  }
  toString = () => `rollback(${this.s})`;
}

class Remove implements Cmd {
  constructor(readonly s: Service) {}
  check = (m: Readonly<Model>) => !!m.services[this.s];
  async run(model: Model, real: Real) {
    const r = await cli('remove-service', this.s, '--purge', '--target', 'local');
    expect(r).toExitWith(0);
    delete model.services[this.s];
    await check(model, real);
  }
  toString = () => `remove-service(${this.s}, --purge)`;
}

/** A hand edit on the server: the student stops the process with pm2. */
class StopByHand implements Cmd {
  constructor(readonly s: Service) {}
  check = (m: Readonly<Model>) => !!m.services[this.s] && !m.services[this.s]!.stopped;
  async run(model: Model, real: Real) {
    asDeployUser(real.server, ['pm2', 'stop', this.s]);
    model.services[this.s]!.stopped = true;
    await check(model, real);
  }
  toString = () => `pm2 stop ${this.s} (by hand)`;
}

/** A lost file: the current release's manifest is deleted; the next deploy must not trust anything it lacks. */
class LoseManifest implements Cmd {
  constructor(readonly s: Service) {}
  check = (m: Readonly<Model>) => !!m.services[this.s];
  async run(model: Model, real: Real) {
    const m = model.services[this.s]!;
    rmSync(join(userHome(real.server), releaseDir(this.s, m.current), RELEASE_MANIFEST));
    m.releases.find((r) => r.id === m.current)!.lost = true;
    const r = await deploy(this.s, appSaying(m.lastDeployed));
    expect(r).toExitWith(0);
    expect(r.out).not.toMatch(/up to date/);
    goLive(m, currentRelease(real.server, this.s)!, m.lastDeployed);
    await check(model, real);
  }
  toString = () => `lose ${this.s}'s manifest, then redeploy`;
}

function commandArbitraries(): Array<fc.Arbitrary<Cmd>> {
  const s = fc.constantFrom(...SERVICES);
  return [
    fc.tuple(s, fc.boolean()).map(([x, f]) => new DeployNew(x, f)),
    s.map((x) => new DeployNew(x, false)),
    fc.tuple(s, fc.boolean()).map(([x, f]) => new DeploySame(x, f)),
    s.map((x) => new DeployBroken(x)),
    fc.tuple(s, fc.constantFrom('upload', 'probe', 'switch', 'verify' as const)).map(([x, at]) => new DeployKilled(x, at)),
    s.map((x) => new Rollback(x)),
    s.map((x) => new Rollback(x)),
    s.map((x) => new Remove(x)),
    s.map((x) => new StopByHand(x)),
    s.map((x) => new LoseManifest(x)),
  ];
}

// ---------------------------------------------------------------- helpers for the commands

function asDeployUser(server: LocalServer, argv: string[]): void {
  const r = require('node:child_process').spawnSync('ip', ['netns', 'exec', 'portside', 'su', '-', server.user, '-c', argv.map((a) => `'${a}'`).join(' ')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
}

/** The real CLI as a child process, SIGKILLed when its stderr announces `→ <step>`. */
function killedDeploy(name: string, dir: string, at: string): Promise<void> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'portside.js'), 'deploy-service', name, '--dir', dir, '--target', 'local', '--health-timeout', '5'], {
    env: { ...process.env, PORTSIDE_HOME: testHome, PORTSIDE_TARGET: 'local' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
    if (err.split('\n').some((l) => new RegExp(`^→ ${at}\\b`).test(l.trim()))) child.kill('SIGKILL');
  });
  child.stdout!.resume();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Wait until no deploy lock is held by a sequence service's agent (a killed CLI's agent carries on). */
async function agentDone(server: LocalServer): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const o = lockOwner(server);
    if (!o || !/seq-/.test(o.what) || !existsSync(`/proc/${o.pid}`)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the killed deploy\'s agent still holds the lock after 60 s');
}
