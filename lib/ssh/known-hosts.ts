import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { fingerprintOf } from './fingerprint';

/** One pinned host key: a line `[host]:port keytype base64` in Portside's known-hosts file. */
export interface PinnedKey {
  readonly keyType: string;
  readonly keyBlob: Buffer;
  readonly fingerprint: string;
}

/** The host field of a known-hosts line. Always bracketed with the port, so port 22 and 2222 never mix. */
export function hostPattern(host: string, port: number): string {
  return `[${host}]:${port}`;
}

/** Keys pinned for `host:port`; empty when the file or the host is absent. Bare `host` means port 22 (OpenSSH's form). */
export async function readPins(path: string, host: string, port: number): Promise<PinnedKey[]> {
  const text = await readIfExists(path);
  const wanted = new Set([hostPattern(host, port), ...(port === 22 ? [host] : [])]);
  const pins: PinnedKey[] = [];
  for (const line of text.split('\n')) {
    const [hosts, keyType, b64] = line.trim().split(/\s+/);
    if (!hosts || hosts.startsWith('#') || !keyType || !b64) continue;
    if (!hosts.split(',').some((h) => wanted.has(h))) continue;
    const keyBlob = Buffer.from(b64, 'base64');
    pins.push({ keyType, keyBlob, fingerprint: fingerprintOf(keyBlob) });
  }
  return pins;
}

/** Append a pin, creating the directory (0700) and file (0600) if needed. */
export async function pinHost(path: string, host: string, port: number, keyType: string, keyBlob: Buffer): Promise<void> {
  await ensureDir(dirname(path));
  const line = `${hostPattern(host, port)} ${keyType} ${keyBlob.toString('base64')}\n`;
  const existing = await readIfExists(path);
  const prefix = existing && !existing.endsWith('\n') ? '\n' : '';
  await fs.appendFile(path, prefix + line, { mode: 0o600 });
  await fs.chmod(path, 0o600);
}

/** Remove every pin for `host:port` (used when a trusted source says the server was rebuilt). */
export async function forgetHost(path: string, host: string, port: number): Promise<number> {
  const text = await readIfExists(path);
  if (!text) return 0;
  const drop = new Set([hostPattern(host, port), ...(port === 22 ? [host] : [])]);
  const lines = text.split('\n');
  const kept = lines.filter((l) => {
    const hosts = l.trim().split(/\s+/)[0] ?? '';
    return !hosts.split(',').some((h) => drop.has(h));
  });
  const removed = lines.length - kept.length;
  if (removed > 0) {
    // Write beside and rename, so a crash never leaves a half-written pin file.
    const tmp = `${path}.${createHash('sha1').update(String(process.pid) + Date.now()).digest('hex').slice(0, 8)}.tmp`;
    await fs.writeFile(tmp, kept.join('\n'), { mode: 0o600 });
    await fs.rename(tmp, path);
  }
  return removed;
}

export async function ensureDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
}

async function readIfExists(path: string): Promise<string> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}
