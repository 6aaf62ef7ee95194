import { chmodSync, lstatSync, mkdirSync } from 'node:fs';

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
