import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fingerprintOf } from '../../ssh/fingerprint';
import { NETNS, PATHS } from './constants';
import { isAlive, readPid } from './processes';

/** How to reach the local stand-in server; `local up --json` prints exactly this object. */
export interface LocalServer {
  /** The server's address (inside the network namespace), reachable from this machine only. */
  readonly address: string;
  readonly sshPort: number;
  /** The deploy user (the CLI's default `ubuntu` is only for AWS). */
  readonly user: string;
  /** The throwaway client private key (ed25519, mode 0600) authorized for `user`. */
  readonly keyPath: string;
  /** The site's domain; Caddy serves it (and `<service>.<domain>`) at `address` with its internal CA. */
  readonly domain: string;
  /** Caddy's local CA root certificate: trust it (only for this server) to verify HTTPS. */
  readonly caCertPath: string;
  /** The sshd host key's fingerprint as OpenSSH prints it: `SHA256:<unpadded base64>`. */
  readonly hostKeyFingerprint: string;
}

export class LocalServerNotUpError extends Error {
  constructor(reason: string) {
    super(`the local server is not up: run \`npx portside local up\` (${reason})`);
    this.name = 'LocalServerNotUpError';
  }
}

/**
 * The facts of the running stand-in, read from its state dir. Throws LocalServerNotUpError when it
 * was never brought up, was taken down, or its sshd is dead. Cheap: no network, no child process.
 */
export function readLocalServer(): LocalServer {
  if (!existsSync(PATHS.serverJson)) throw new LocalServerNotUpError(`${PATHS.serverJson} does not exist`);
  if (!existsSync(`/run/netns/${NETNS}`)) throw new LocalServerNotUpError(`network namespace "${NETNS}" does not exist`);
  if (!isAlive(readPid(PATHS.sshdPid))) throw new LocalServerNotUpError('its sshd is not running');
  return JSON.parse(readFileSync(PATHS.serverJson, 'utf8')) as LocalServer;
}

export function writeLocalServer(server: LocalServer): void {
  writeFileSync(PATHS.serverJson, JSON.stringify(server, null, 2) + '\n');
}

/**
 * An SSH public key's fingerprint as OpenSSH prints it (`ssh-keygen -lf`): `SHA256:` and the unpadded
 * base64 of the SHA-256 of the key blob. Pass the blob (ssh2's hostVerifier gets it as a Buffer) or an
 * OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
 */
export function sshFingerprint(key: Buffer | string): string {
  const blob = typeof key === 'string' ? Buffer.from(key.trim().split(/\s+/)[1] ?? '', 'base64') : key;
  if (blob.length === 0) throw new Error('sshFingerprint: not an OpenSSH public key');
  return fingerprintOf(blob);
}
