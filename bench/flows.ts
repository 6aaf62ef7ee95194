/**
 * The two ways to deploy the app that the benchmark compares:
 * - `scp`: our re-creation of the course's deployService.sh against the stand-in server, with the
 *   system OpenSSH clients: build locally; `ssh` rm -rf the folder; `scp -r` the build and the back
 *   end; `ssh` npm install + pm2 restart (fork mode, as the course starts it).
 * - `portside`: `npm run deploy-service <name> <port> -- --target local --dir <app>` from the repository,
 *   as the README tells a user to type it (npm's launcher included);
 * - `bare`: the same deploy as `node bin/portside.js deploy-service …`, to show the launcher's share.
 * Each returns the wall-clock time of the whole command, the payload bytes it sent, and its build time.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localStatus, localUp, readLocalServer } from '../lib/targets/local';
import { settle } from './settle';

export const REPO = join(__dirname, '..');
export const WORK = join(REPO, 'bench', 'work');

export interface StandIn {
  readonly address: string;
  readonly user: string;
  readonly keyPath: string;
  readonly domain: string;
  readonly caCertPath: string;
  readonly hostKeyFingerprint: string;
}

export interface DeployResult {
  readonly ms: number;
  /** Payload bytes sent: file contents (the scp flow's whole build; Portside's changed files). */
  readonly bytes: number;
  /** How long the front-end build took inside the command (0 when skipped). */
  readonly buildMs: number;
  readonly note: string;
  /** Wall-clock start and end (ms since the epoch), to place the deploy on the load picture. */
  readonly start: number;
  readonly end: number;
  /** Portside's step times (ms) from its summary line; empty for the scp flow and for deploys that changed nothing. */
  readonly steps?: Record<string, number>;
}

export interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly ms: number;
}

/** Run a program; resolves with its output and wall-clock time; rejects when it fails. */
export function runTimed(cmd: string, args: readonly string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const r = { code: code ?? -1, out, err, ms: performance.now() - t0 };
      if (code !== 0 && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${err.slice(-2000)}${out.slice(-1000)}`));
      else resolve(r);
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The stand-in server, up (brought up when it is not). */
export async function standIn(log: (l: string) => void): Promise<StandIn> {
  try {
    const server = readLocalServer();
    if ((await localStatus()).up) return server;
  } catch {
    /* not up: bring it up */
  }
  log('bringing the local stand-in server up (npx portside local up)');
  return localUp({ log: (l) => log(`  ${l}`) });
}

// ------------------------------------------------------------------ the course's scp flow

/** Pin the stand-in's host key for the system ssh client, checked against the stand-in's own record. */
export function knownHostsFor(server: StandIn): string {
  const file = join(WORK, 'known_hosts');
  const scanned = execFileSync('ssh-keyscan', ['-t', 'ed25519', server.address], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const tmp = `${file}.scan`;
  writeFileSync(tmp, scanned);
  const fp = execFileSync('ssh-keygen', ['-lf', tmp], { encoding: 'utf8' });
  rmSync(tmp);
  if (!fp.includes(server.hostKeyFingerprint)) throw new Error(`the stand-in's host key (${fp.trim()}) is not the one it recorded (${server.hostKeyFingerprint})`);
  writeFileSync(file, scanned);
  return file;
}

function sshArgs(server: StandIn, knownHosts: string): string[] {
  return ['-i', server.keyPath, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'LogLevel=ERROR'];
}

export function ssh(server: StandIn, knownHosts: string, script: string): Promise<Run> {
  return runTimed('ssh', [...sshArgs(server, knownHosts), `${server.user}@${server.address}`, 'bash -s'], { input: script });
}

function sizeOf(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? sizeOf(p) : statSync(p).size;
  }
  return n;
}

/**
 * The course's deployService.sh, step for step: npm install + build locally; copy dist → build/public
 * and service/*.js, *.json → build; ssh rm -rf + mkdir; scp -r build/*; ssh npm install + pm2 restart.
 */
export async function scpDeploy(app: string, name: string, server: StandIn, knownHosts: string, opts: { buildCmd?: string[]; firstPort?: number } = {}): Promise<DeployResult> {
  const start = Date.now();
  const t0 = performance.now();
  // deployService.sh runs `npm install` before the build ("make sure vite is installed").
  await runTimed('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app });
  const build = opts.buildCmd ?? ['npm', 'run', 'build'];
  const b = await runTimed(build[0], build.slice(1), { cwd: app });
  const stage = join(WORK, `build-${name}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  cpSync(join(app, 'dist'), join(stage, 'public'), { recursive: true });
  for (const f of readdirSync(join(app, 'service'))) {
    if (/\.(js|json)$/.test(f)) cpSync(join(app, 'service', f), join(stage, f));
  }
  const bytes = sizeOf(stage);
  const folder = `course/${name}`;
  await ssh(server, knownHosts, `rm -rf ${folder}\nmkdir -p ${folder}/public\n`);
  await runTimed('scp', [...sshArgs(server, knownHosts), '-r', ...readdirSync(stage).map((f) => join(stage, f)), `${server.user}@${server.address}:${folder}`]);
  // The course's first deploy starts the process (its README: pm2 start index.js -n <name> -- <port>); later ones restart it.
  const pm2 = opts.firstPort === undefined ? `pm2 restart ${name}` : `pm2 delete ${name} >/dev/null 2>&1; pm2 start index.js -n ${name} -- ${opts.firstPort} >/dev/null && pm2 save --force >/dev/null`;
  await ssh(server, knownHosts, `cd ${folder}\nnpm install --no-audit --no-fund --loglevel=error\n${pm2}\n`);
  rmSync(stage, { recursive: true, force: true });
  return { ms: performance.now() - t0, bytes, buildMs: b.ms, note: '', start, end: Date.now() };
}

/**
 * Give the scp flow a route through Caddy the fair way: deploy the app once with Portside under the
 * scp flow's name (that registers its port and routes Caddy to it), then replace Portside's process
 * with the course's: its first deploy (timed: the cold-deploy comparison), which ends with one
 * fork-mode `pm2 start index.js` from ~/course/<name>, on the same port.
 */
export async function setupScpService(app: string, name: string, port: number, server: StandIn, knownHosts: string, log: (l: string) => void, buildCmd?: string[]): Promise<DeployResult> {
  await portsideDeploy(app, name, [String(port), '--force']);
  log(`  ${name}: routed by Portside to port ${port}; replacing its process with the course's first deploy`);
  await ssh(server, knownHosts, `pm2 delete ${name} >/dev/null 2>&1; rm -rf course/${name}; mkdir -p course; echo ok\n`);
  await settle();
  return scpDeploy(app, name, server, knownHosts, { buildCmd, firstPort: port });
}

// ------------------------------------------------------------------ Portside

const BIN = join(REPO, 'bin', 'portside.js');

/** Parse "sent 3 files (1.2 kB)" / "(932 B)" / "(1.1 MB)" into bytes. */
export function parseBytes(text: string): number {
  const m = /sent \d+ files? \(([\d.]+) (B|kB|MB)\)/.exec(text);
  if (!m) return 0;
  return Math.round(Number(m[1]) * ({ B: 1, kB: 1024, MB: 1024 * 1024 } as Record<string, number>)[m[2]]);
}

/** How Portside is started: `npm run deploy-service …` (what users type) or `node bin/portside.js …`. */
export type Launcher = 'npm' | 'node';

/** The argv of a deploy as each launcher starts it (npm runs from the repository, where the script is). */
export function deployArgv(launcher: Launcher, app: string, name: string, port: number | undefined, extra: readonly string[] = []): string[] {
  const args = [name, ...(port === undefined ? [] : [String(port)])];
  const options = ['--target', 'local', '--dir', app, ...extra];
  return launcher === 'npm' ? ['npm', 'run', 'deploy-service', ...args, '--', ...options] : [process.execPath, BIN, 'deploy-service', ...args, ...options];
}

/**
 * A Portside deploy of `app` as `name`, timed from spawn to exit. `extra` may hold the port first (a
 * number) and then options. @default launcher - `node` (untimed set-up deploys; the timed ones say which)
 */
export async function portsideDeploy(app: string, name: string, extra: string[] = [], launcher: Launcher = 'node', opts: { nodeOptions?: string; env?: Record<string, string> } = {}): Promise<DeployResult & { out: string; err: string }> {
  // Other people's deploys to the same stand-in hold its lock: start when it is free, so the timing
  // is Portside's own (a deploy that still had to wait says so in its note).
  await lockFree();
  const start = Date.now();
  const env = { ...process.env, ...opts.env };
  // npm sets INIT_CWD for its own run; one left from `npm run bench` would point the CLI elsewhere.
  delete env.INIT_CWD;
  if (opts.nodeOptions) env.NODE_OPTIONS = opts.nodeOptions;
  const port = /^\d+$/.test(extra[0] ?? '') ? Number(extra[0]) : undefined;
  const argv = deployArgv(launcher, app, name, port, port === undefined ? extra : extra.slice(1));
  const r = await runTimed(argv[0], argv.slice(1), { env, cwd: REPO });
  const build = /build (\d+\.\d+)s/.exec(r.out);
  const unchanged = /up to date/.test(r.out);
  // npm prints the script it runs ("> portside@… deploy-service", "> node -- …") before the CLI's lines.
  const first = r.out.split('\n').find((l) => l.trim() && !l.startsWith('>')) ?? '';
  return {
    ms: r.ms, bytes: unchanged ? 0 : parseBytes(r.out), buildMs: build ? Number(build[1]) * 1000 : 0,
    note: first.trim() + (/waiting for the deploy lock/.test(r.err) ? ' [waited for the deploy lock]' : ''), start, end: Date.now(), out: r.out, err: r.err,
    steps: stepTimes(r.out),
  };
}

/** The step times in a deploy's summary line ("build 0.01s, manifest 0.00s, …; total 0.58s"). */
export function stepTimes(out: string): Record<string, number> {
  const line = out.split('\n').find((l) => /; total \d+\.\d+s$/.test(l.trim())) ?? '';
  const steps: Record<string, number> = {};
  for (const m of line.matchAll(/([a-z-]+) (\d+\.\d+)s/g)) if (m[1] !== 'total') steps[m[1]] = Math.round(Number(m[2]) * 1000);
  return steps;
}

/** The stand-in shares this machine's file system: its deploy lock is a folder in the deploy user's home. */
export const LOCK_DIR = (() => {
  try {
    return join(execFileSync('getent', ['passwd', 'portside'], { encoding: 'utf8' }).split(':')[5], '.portside', 'lock');
  } catch {
    return '';
  }
})();

export async function lockFree(maxMs = 180_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (LOCK_DIR && existsSync(LOCK_DIR) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

export const waitedForLock = (r: DeployResult): boolean => r.note.includes('[waited for the deploy lock]');

export function portsideRemove(name: string): Promise<Run> {
  return runTimed(process.execPath, [BIN, 'remove-service', name, '--purge', '--target', 'local'], { allowFail: true });
}

export function hasBuild(app: string): boolean {
  return existsSync(join(app, 'dist', 'index.html'));
}
