import { createHash } from 'node:crypto';

/** `SHA256:` + unpadded base64 of the key blob's sha256: what `ssh-keygen -lf` and sshd's logs print. */
export function fingerprintOf(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH public key blob (its first length-prefixed string), e.g. `ssh-ed25519`. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) throw new Error(`not an SSH public key blob (${keyBlob.length} bytes)`);
  const len = keyBlob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > keyBlob.length) throw new Error('not an SSH public key blob (bad key type length)');
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

/** Compare fingerprints as people paste them: with or without `SHA256:`, with or without `=` padding. */
export function sameFingerprint(a: string, b: string): boolean {
  return normalizeFingerprint(a) === normalizeFingerprint(b);
}

export function normalizeFingerprint(fp: string): string {
  const bare = fp.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  return `SHA256:${bare}`;
}
