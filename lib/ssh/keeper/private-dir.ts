import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Make `dir` a folder only this user can enter (0700, owned by this user, not a symlink), as OpenSSH
 * wants of a ControlPath's folder. @returns why it cannot be used, or undefined when it is fine
 */
export function ensurePrivateDir(dir: string): string | undefined {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) return `${dir} is not a folder`;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return `${dir} belongs to uid ${st.uid}, not to this user (${uid})`;
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return undefined;
}

/**
 * Whether `socket` may be trusted as this user's keeper: a socket owned by this user, in a folder only
 * this user can enter (else someone else could stand in for the keeper and see the commands).
 */
export function isOwnSocket(socket: string): boolean {
  try {
    const uid = process.getuid?.();
    const dir = lstatSync(dirname(socket));
    const sock = lstatSync(socket);
    return dir.isDirectory() && (dir.mode & 0o077) === 0 && sock.isSocket() && (uid === undefined || (dir.uid === uid && sock.uid === uid));
  } catch {
    return false;
  }
}
