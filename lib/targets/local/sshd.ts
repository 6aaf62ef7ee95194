import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DEPLOY_USER, PATHS, SERVER_ADDRESS, SSH_PORT } from './constants';
import { inNetns, run, runOrThrow } from './exec';
import { which } from './host-requirements';
import { netnsId, PartHealth } from './netns';
import { isAlive, livePid, netnsOf, readPid, sleep, terminate } from './processes';
import { tcpExchange } from './probe';
import { renderSshdConfig } from './sshd-config';
import { sshFingerprint } from './local-server';

/** Generate an ed25519 key pair at `file` unless one is there. Resolves to true when it made one. */
export function ensureKeyPair(file: string, comment: string): boolean {
  if (existsSync(file) && existsSync(`${file}.pub`)) return false;
  run(['rm', '-f', file, `${file}.pub`]);
  runOrThrow(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  chmodSync(file, 0o600);
  return true;
}

/** The PATH sshd gives sessions (its config's SetEnv), or undefined before the first `up`. */
export function sessionPath(): string | undefined {
  if (!existsSync(PATHS.sshdConfig)) return undefined;
  return /^SetEnv PATH=(.*)$/m.exec(readFileSync(PATHS.sshdConfig, 'utf8'))?.[1];
}

export function hostKeyFingerprint(): string {
  return sshFingerprint(readFileSync(`${PATHS.hostKey}.pub`, 'utf8'));
}

/**
 * Keep the stand-in's sshd running inside the namespace with the current config. Restarts it when
 * it is dead, lives in another (older) namespace, or its config changed. Resolves to true when it started one.
 */
export async function ensureSshd(path: string, log: (line: string) => void): Promise<boolean> {
  const sshd = which('sshd');
  if (!sshd) throw new Error('sshd is not installed (apt-get install -y openssh-server)');
  const config = renderSshdConfig({
    listenAddress: SERVER_ADDRESS, port: SSH_PORT, user: DEPLOY_USER, hostKey: PATHS.hostKey, pidFile: PATHS.sshdPid, path,
  });
  const changed = !existsSync(PATHS.sshdConfig) || readFileSync(PATHS.sshdConfig, 'utf8') !== config;
  if (changed) writeFileSync(PATHS.sshdConfig, config, { mode: 0o600 });
  const pid = livePid(PATHS.sshdPid);
  if (pid && !changed && netnsOf(pid) === netnsId() && (await sshBanner())) return false;
  if (pid) await terminate([pid]);
  // Privilege separation needs this folder, and `sshd -t` already checks for it: the host's own sshd
  // would make it at boot, but where no init system runs (a container, CI) nothing ever has.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  runOrThrow([sshd, '-t', '-f', PATHS.sshdConfig]);
  log(`starting sshd on ${SERVER_ADDRESS}:${SSH_PORT}`);
  runOrThrow(inNetns([sshd, '-f', PATHS.sshdConfig, '-E', PATHS.sshdLog]));
  const deadline = Date.now() + 5000;
  while (!(await sshBanner())) {
    if (Date.now() > deadline) throw new Error(`sshd did not answer on ${SERVER_ADDRESS}:${SSH_PORT}; see ${PATHS.sshdLog}`);
    await sleep(50);
  }
  return true;
}

function sshBanner(): Promise<string | undefined> {
  return tcpExchange(SERVER_ADDRESS, SSH_PORT, undefined, 1000).then((b) => (b?.startsWith('SSH-') ? b.trim() : undefined));
}

export async function stopSshd(): Promise<void> {
  const pid = livePid(PATHS.sshdPid);
  if (pid) await terminate([pid]);
}

export async function sshdHealth(): Promise<PartHealth> {
  const pid = readPid(PATHS.sshdPid);
  if (!pid || !isAlive(pid)) return { ok: false, detail: 'not running' };
  if (netnsOf(pid) !== netnsId()) return { ok: false, detail: `pid ${pid} runs outside the namespace` };
  const banner = await sshBanner();
  return banner ? { ok: true, detail: `pid ${pid} on ${SERVER_ADDRESS}:${SSH_PORT} (${banner})` } : { ok: false, detail: `pid ${pid} does not answer on ${SERVER_ADDRESS}:${SSH_PORT}` };
}
