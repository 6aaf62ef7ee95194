import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import { fingerprintOf, keyTypeOf, sameFingerprint } from '../../lib/ssh/fingerprint';
import { checkHostKey } from '../../lib/ssh/host-verifier';
import { forgetHost, pinHost, readPins } from '../../lib/ssh/known-hosts';
import { HostKeyMismatchError } from '../../lib/ssh/errors';

/**
 * ssh2 1.17's ed25519 keygen drops leading zero bytes of the public key about 1 time in 256
 * (mscdex/ssh2#1390, #1513), producing keys its own parser rejects: retry until parseKey accepts both halves.
 */
function keyPair(): { private: string; public: string } {
  for (;;) {
    const kp = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(kp.private) instanceof Error) && !(utils.parseKey(kp.public) instanceof Error)) return kp;
  }
}

function publicBlob(): Buffer {
  const { public: pub } = keyPair();
  return Buffer.from(pub.split(' ')[1], 'base64');
}

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'portside-kh-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('fingerprints', () => {
  test('SHA256 of the blob, unpadded base64, and the key type from the blob', () => {
    const blob = publicBlob();
    expect(fingerprintOf(blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
  });
  test('compares with or without the SHA256: prefix and padding', () => {
    expect(sameFingerprint('SHA256:abc', 'abc=')).toBe(true);
    expect(sameFingerprint('SHA256:abc', 'SHA256:abd')).toBe(false);
  });
});

describe('known-hosts file', () => {
  test('pins as "[host]:port type base64", creating a 0700 dir and a 0600 file', async () => {
    const path = join(dir, 'home', 'known_hosts');
    const blob = publicBlob();
    await pinHost(path, '10.0.0.1', 2222, 'ssh-ed25519', blob);
    expect(readFileSync(path, 'utf8')).toBe(`[10.0.0.1]:2222 ssh-ed25519 ${blob.toString('base64')}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'home')).mode & 0o777).toBe(0o700);
  });

  test('reads pins per host and port; bare host means port 22; comments ignored', async () => {
    const path = join(dir, 'known_hosts');
    const a = publicBlob();
    const b = publicBlob();
    writeFileSync(path, `# comment\n[h]:2222 ssh-ed25519 ${a.toString('base64')}\nh ssh-ed25519 ${b.toString('base64')}\n`);
    expect((await readPins(path, 'h', 2222)).map((p) => p.fingerprint)).toEqual([fingerprintOf(a)]);
    expect((await readPins(path, 'h', 22)).map((p) => p.fingerprint)).toEqual([fingerprintOf(b)]);
    expect(await readPins(join(dir, 'absent'), 'h', 22)).toEqual([]);
  });

  test('forgetHost removes only that host:port', async () => {
    const path = join(dir, 'known_hosts');
    await pinHost(path, 'h', 2222, 'ssh-ed25519', publicBlob());
    await pinHost(path, 'other', 2222, 'ssh-ed25519', publicBlob());
    expect(await forgetHost(path, 'h', 2222)).toBe(1);
    expect(await readPins(path, 'h', 2222)).toEqual([]);
    expect(await readPins(path, 'other', 2222)).toHaveLength(1);
  });
});

describe('checkHostKey', () => {
  const policy = (over = {}) => ({ host: 'h', port: 22, knownHostsPath: join(dir, 'known_hosts'), ...over });

  test('trusts on first use and pins, then accepts the same key', async () => {
    const blob = publicBlob();
    expect(await checkHostKey(policy(), blob)).toMatchObject({ ok: true, pinned: 'now' });
    expect(await checkHostKey(policy(), blob)).toMatchObject({ ok: true, pinned: 'already' });
  });

  test('a different key for a pinned host: mismatch naming both fingerprints, the file and the fix', async () => {
    const old = publicBlob();
    await checkHostKey(policy(), old);
    const check = await checkHostKey(policy({ label: 'EC2 i-0abc (Portside)' }), publicBlob());
    expect(check.ok).toBe(false);
    const err = (check as { error: HostKeyMismatchError }).error;
    expect(err.expected).toBe(fingerprintOf(old));
    expect(err.received).toBe(check.fingerprint);
    expect(err.message).toContain(err.expected);
    expect(err.message).toContain(err.received);
    expect(err.message).toContain('EC2 i-0abc (Portside)');
    expect(err.message).toContain(`delete the line starting with "[h]:22" from ${join(dir, 'known_hosts')}`);
  });

  test('expected fingerprints: a non-matching key is refused and not pinned; a matching one is pinned', async () => {
    const blob = publicBlob();
    const refused = await checkHostKey(policy({ expectedFingerprints: ['SHA256:nope'], expectedFrom: 'the local server state' }), blob);
    expect(refused.ok).toBe(false);
    expect((refused as { error: Error }).error.message).toContain('the local server state lists SHA256:nope');
    expect(await readPins(join(dir, 'known_hosts'), 'h', 22)).toEqual([]);
    const accepted = await checkHostKey(policy({ expectedFingerprints: [fingerprintOf(blob)] }), blob);
    expect(accepted).toMatchObject({ ok: true, pinned: 'now' });
  });
});
