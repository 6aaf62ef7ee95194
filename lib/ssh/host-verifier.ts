import { HostKeyMismatchError } from './errors';
import { fingerprintOf, keyTypeOf, sameFingerprint } from './fingerprint';
import { hostPattern, pinHost, readPins } from './known-hosts';

export interface HostKeyPolicy {
  readonly host: string;
  readonly port: number;
  readonly knownHostsPath: string;
  readonly expectedFingerprints?: readonly string[];
  /** Where `expectedFingerprints` came from, for the refusal message. */
  readonly expectedFrom?: string;
  readonly label?: string;
}

export type HostKeyCheck =
  | { ok: true; fingerprint: string; pinned: 'already' | 'now' }
  | { ok: false; fingerprint: string; error: HostKeyMismatchError };

/**
 * Decide whether to trust `keyBlob` for this host: pinned → must match; not pinned → must match
 * `expectedFingerprints` when given, then gets pinned (trust on first use otherwise).
 */
export async function checkHostKey(policy: HostKeyPolicy, keyBlob: Buffer): Promise<HostKeyCheck> {
  const { host, port, knownHostsPath } = policy;
  const received = fingerprintOf(keyBlob);
  const keyType = keyTypeOf(keyBlob);
  const where = `${host}:${port}${policy.label ? ` (${policy.label})` : ''}`;
  const pins = await readPins(knownHostsPath, host, port);

  if (pins.length > 0) {
    if (pins.some((p) => p.keyType === keyType && p.keyBlob.equals(keyBlob))) {
      return { ok: true, fingerprint: received, pinned: 'already' };
    }
    const expected = pins.map((p) => p.fingerprint).join(', ');
    const message = [
      `host key for ${where} has CHANGED: ${knownHostsPath} pins ${expected}, the server sent ${received} (${keyType}).`,
      'Nothing was sent to the server. Someone may be intercepting the connection; do not continue unless you know why.',
      `If the server was really rebuilt, delete the line starting with "${hostPattern(host, port)}" from ${knownHostsPath} and connect again.`,
    ].join('\n');
    return { ok: false, fingerprint: received, error: new HostKeyMismatchError(host, expected, received, message) };
  }

  const expectedList = policy.expectedFingerprints ?? [];
  if (expectedList.length > 0 && !expectedList.some((fp) => sameFingerprint(fp, received))) {
    const expected = expectedList.join(', ');
    const from = policy.expectedFrom ?? 'the expected fingerprints given';
    const message = [
      `host key for ${where} is not the expected one: ${from} lists ${expected}, the server sent ${received} (${keyType}).`,
      'Nothing was sent to the server and nothing was pinned. Check that the address points at the right server;',
      `if it does and the server was rebuilt, refresh the source of the expected fingerprints (${from}).`,
    ].join('\n');
    return { ok: false, fingerprint: received, error: new HostKeyMismatchError(host, expected, received, message) };
  }

  await pinHost(knownHostsPath, host, port, keyType, keyBlob);
  return { ok: true, fingerprint: received, pinned: 'now' };
}
