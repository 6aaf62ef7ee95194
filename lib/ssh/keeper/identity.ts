import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** What a kept connection is for: it serves a command only when all of these are the same. */
export interface KeeperIdentity {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly hostKeyAlias?: string;
  readonly knownHostsPath: string;
  readonly expectedFingerprints?: readonly string[];
  /** The private key's bytes: hashed into the name, never stored. */
  readonly privateKey: Buffer | string;
}

/** A keeper's files, all in one private folder. */
export interface KeeperFiles {
  readonly dir: string;
  readonly socket: string;
  /** `{ pid, host, port, user }`: lets `local down` find and stop the keepers of a server. */
  readonly info: string;
  readonly log: string;
}

/** The folder of the keepers' sockets, under Portside's state folder. */
export function keepersDir(home: string): string {
  return join(home, 'keepers');
}

/**
 * A short name for the identity: sha256 over its fields (the key by its own sha256), 20 hex digits.
 * Like OpenSSH's ControlPath `%C` (a hash of the connection's parameters), it keeps the socket path
 * short (Unix socket paths are limited to ~107 bytes) and reveals nothing about the target.
 */
export function identityHash(id: KeeperIdentity): string {
  const keyHash = createHash('sha256').update(id.privateKey).digest('hex');
  const fields = [id.host, id.port, id.user, id.hostKeyAlias ?? '', id.knownHostsPath, [...(id.expectedFingerprints ?? [])].sort().join(','), keyHash];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 20);
}

/** Longest socket path that fits sockaddr_un's 108 bytes with the terminating NUL. */
export const MAX_SOCKET_PATH = 107;

/** The keeper's files for `hash` in `home`; the socket's path is undefined when too long for a Unix socket. */
export function keeperFiles(home: string, hash: string): KeeperFiles & { readonly socketFits: boolean } {
  const dir = keepersDir(home);
  const socket = join(dir, `${hash}.sock`);
  return { dir, socket, info: join(dir, `${hash}.json`), log: join(dir, `${hash}.log`), socketFits: Buffer.byteLength(socket) <= MAX_SOCKET_PATH };
}
