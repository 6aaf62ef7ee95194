// The CLI's side of the kept connection: use a keeper when one answers in time, else connect directly
// and leave one behind after the command. Everything here fails towards the direct connection.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { DIST_DIR } from '../../package-root';
import type { SshTarget } from '../connection';
import { defaultKnownHostsPath, portsideHome } from '../paths';
import type { KeeperConfig } from './config';
import { encodeFrame, frameJson, FrameDecoder, FROM_KEEPER, TO_KEEPER } from './frames';
import { identityHash, keeperFiles, keepersDir, type KeeperFiles } from './identity';
import { KeptSession } from './kept-session';
import { ensurePrivateDir, isOwnSocket } from './private-dir';

/**
 * How long the CLI gives a keeper to prove its connection (socket, then a round trip to the server)
 * before connecting directly: a healthy one answers in ~1 ms on the stand-in plus one network round
 * trip; a direct connection costs ~50 ms here and several round trips to AWS, so waiting longer than
 * this for a keeper that may be stuck would cost more than it can save.
 */
export const KEEPER_ANSWER_MS = 250;

/** Where the keeper's bundle is (scripts/build.js). */
const KEEPER_BUNDLE = join(DIST_DIR, 'keeper.js');

/** A target the keeper can serve: the key is a file it can read itself. */
export type KeepableTarget = SshTarget & { readonly privateKeyPath?: string };

/** The keeper's files for `target`, or undefined when it cannot have one (no key file, socket path too long, folder not private). */
export function keeperFor(target: KeepableTarget, env: NodeJS.ProcessEnv): (KeeperFiles & { hash: string; home: string }) | undefined {
  if (!target.privateKeyPath) return undefined;
  const home = portsideHome(env);
  const hash = identityHash({ ...target, knownHostsPath: target.knownHostsPath ?? defaultKnownHostsPath(env) });
  const files = keeperFiles(home, hash);
  return files.socketFits ? { ...files, hash, home } : undefined;
}

/**
 * A session through the keeper at `files`, when one answers within KEEPER_ANSWER_MS (its connection
 * checked by a round trip to the server); else undefined, and a keeper that did not answer is stopped.
 */
export async function tryKeeper(files: KeeperFiles, where: string): Promise<KeptSession | undefined> {
  if (!isOwnSocket(files.socket)) return undefined;
  const fingerprint = await hello(files.socket);
  if (fingerprint !== undefined) return new KeptSession(files.socket, fingerprint, where);
  stopStale(files);
  return undefined;
}

/** The keeper's hello: its host key fingerprint, or undefined when it does not answer in time. */
function hello(socket: string): Promise<string | undefined> {
  return new Promise((done) => {
    const sock = connect(socket);
    const finish = (fp: string | undefined): void => {
      clearTimeout(timer);
      sock.destroy();
      done(fp);
    };
    const timer = setTimeout(() => finish(undefined), KEEPER_ANSWER_MS);
    const decoder = new FrameDecoder();
    sock.on('data', (chunk: Buffer) => {
      const ready = decoder.push(chunk).find((f) => f.type === FROM_KEEPER.ready);
      if (ready) finish(frameJson<{ fingerprint: string }>(ready).fingerprint);
    });
    sock.once('error', () => finish(undefined));
    sock.once('close', () => finish(undefined));
    sock.write(encodeFrame(TO_KEEPER.hello));
  });
}

/** Stop a keeper that did not answer (hung, or its server gone) and remove its files. */
function stopStale(files: KeeperFiles): void {
  const pid = keeperPid(files.info);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(files.socket, { force: true });
  rmSync(files.info, { force: true });
}

/** The pid in a keeper's info file, when that process is still a keeper (a reused pid is left alone). */
function keeperPid(info: string): number | undefined {
  try {
    const { pid } = JSON.parse(readFileSync(info, 'utf8')) as { pid: number };
    // process.title renames the keeper; where /proc is missing (macOS) the pid is not trusted.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('portside-keeper') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Leave a keeper behind for `target` (detached: it outlives this process, and Ctrl-C in the terminal
 * does not reach it). Its argv holds paths and fingerprints, never the key: it reads the key file itself.
 */
export function leaveKeeper(target: KeepableTarget, files: KeeperFiles & { hash: string; home: string }, idleMs: number, agentPath?: string): void {
  if (!existsSync(KEEPER_BUNDLE) || ensurePrivateDir(files.dir)) return;
  const config: KeeperConfig = {
    host: target.host, port: target.port, user: target.user, keyPath: resolve(target.privateKeyPath!),
    hostKeyAlias: target.hostKeyAlias, knownHostsPath: target.knownHostsPath ?? defaultKnownHostsPath(),
    expectedFingerprints: target.expectedFingerprints, expectedFingerprintsSource: target.expectedFingerprintsSource,
    label: target.label, home: files.home, hash: files.hash, idleMs, agentPath,
  };
  const child = spawn(process.execPath, [KEEPER_BUNDLE, JSON.stringify(config)], { detached: true, stdio: 'ignore', cwd: files.dir, env: { PATH: process.env.PATH } });
  child.on('error', () => undefined);
  child.unref();
}

/**
 * Stop the keepers of the server at host:port in Portside's state folder (`portside local down`):
 * each is asked to quit on its socket, and killed when it does not answer.
 */
export async function stopKeepers(host: string, port: number, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const dir = keepersDir(portsideHome(env));
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return 0;
  }
  let stopped = 0;
  for (const name of names) {
    const info = join(dir, name);
    try {
      const o = JSON.parse(readFileSync(info, 'utf8')) as { host: string; port: number };
      if (o.host !== host || o.port !== port) continue;
    } catch {
      continue;
    }
    const files = { dir, info, socket: info.replace(/\.json$/, '.sock'), log: info.replace(/\.json$/, '.log') };
    if (!(await askToQuit(files.socket))) stopStale(files);
    stopped++;
  }
  return stopped;
}

/** Send quit; true when the keeper closed the socket in answer (it removes its own files). */
function askToQuit(socket: string): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(socket);
    const timer = setTimeout(() => { sock.destroy(); done(false); }, KEEPER_ANSWER_MS);
    sock.once('connect', () => sock.write(encodeFrame(TO_KEEPER.quit)));
    sock.once('error', () => { clearTimeout(timer); done(false); });
    sock.once('close', () => { clearTimeout(timer); done(true); });
  });
}
