import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DEPLOY_USER, HOST_ADDRESS, NETNS, PATHS, SERVER_ADDRESS, SSH_PORT } from './constants';
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

/** The PATH sshd gives sessions (its config's SetEnv; the single stand-in's by default), or undefined before the first `up`. */
export function sessionPath(config: string = PATHS.sshdConfig): string | undefined {
  if (!existsSync(config)) return undefined;
  return /^SetEnv PATH=(.*)$/m.exec(readFileSync(config, 'utf8'))?.[1];
}

/** Where one stand-in's sshd lives. */
export interface SshdSite {
  readonly netns: string;
  readonly address: string;
  /** The host's own address on that network: probes leave from it (see probe.ts). */
  readonly from: string;
  readonly user: string;
  readonly hostKey: string;
  readonly config: string;
  readonly pidFile: string;
  readonly log: string;
}

/** The single stand-in's sshd (the default everywhere below). */
export const STAND_IN_SSHD: SshdSite = {
  netns: NETNS, address: SERVER_ADDRESS, from: HOST_ADDRESS, user: DEPLOY_USER,
  hostKey: PATHS.hostKey, config: PATHS.sshdConfig, pidFile: PATHS.sshdPid, log: PATHS.sshdLog,
};

export function hostKeyFingerprint(site: SshdSite = STAND_IN_SSHD): string {
  return sshFingerprint(readFileSync(`${site.hostKey}.pub`, 'utf8'));
}

/**
 * Keep a stand-in's sshd running inside its namespace with the current config. Restarts it when
 * it is dead, lives in another (older) namespace, or its config changed. Resolves to true when it started one.
 */
export async function ensureSshd(path: string, log: (line: string) => void, site: SshdSite = STAND_IN_SSHD): Promise<boolean> {
  const sshd = which('sshd');
  if (!sshd) throw new Error('sshd is not installed (apt-get install -y openssh-server)');
  const config = renderSshdConfig({
    listenAddress: site.address, port: SSH_PORT, user: site.user, hostKey: site.hostKey, pidFile: site.pidFile, path,
  });
  const changed = !existsSync(site.config) || readFileSync(site.config, 'utf8') !== config;
  if (changed) writeFileSync(site.config, config, { mode: 0o600 });
  const pid = livePid(site.pidFile);
  if (pid && !changed && netnsOf(pid) === netnsId(site.netns) && (await sshBanner(site))) return false;
  if (pid) await terminate([pid]);
  // Privilege separation needs this folder, and `sshd -t` already checks for it: the host's own sshd
  // would make it at boot, but where no init system runs (a container, CI) nothing ever has.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  runOrThrow([sshd, '-t', '-f', site.config]);
  log(`starting sshd on ${site.address}:${SSH_PORT}`);
  runOrThrow(inNetns([sshd, '-f', site.config, '-E', site.log], site.netns));
  const deadline = Date.now() + 5000;
  while (!(await sshBanner(site))) {
    if (Date.now() > deadline) throw new Error(`sshd did not answer on ${site.address}:${SSH_PORT}; see ${site.log}`);
    await sleep(50);
  }
  return true;
}

function sshBanner(site: SshdSite): Promise<string | undefined> {
  return tcpExchange(site.address, SSH_PORT, undefined, 1000, false, site.from).then((b) => (b?.startsWith('SSH-') ? b.trim() : undefined));
}

export async function stopSshd(site: SshdSite = STAND_IN_SSHD): Promise<void> {
  const pid = livePid(site.pidFile);
  if (pid) await terminate([pid]);
}

export async function sshdHealth(site: SshdSite = STAND_IN_SSHD): Promise<PartHealth> {
  const pid = readPid(site.pidFile);
  if (!pid || !isAlive(pid)) return { ok: false, detail: 'not running' };
  if (netnsOf(pid) !== netnsId(site.netns)) return { ok: false, detail: `pid ${pid} runs outside the namespace` };
  const banner = await sshBanner(site);
  return banner ? { ok: true, detail: `pid ${pid} on ${site.address}:${SSH_PORT} (${banner})` } : { ok: false, detail: `pid ${pid} does not answer on ${site.address}:${SSH_PORT}` };
}
