import { readFileSync } from 'node:fs';
import { Client } from 'ssh2';
import { fingerprintOf } from '../../ssh/fingerprint';
import type { LocalServer } from './local-server';
import type { PartHealth } from './netns';

/**
 * Log in as a deploy would: the client key, the pinned host key, then run `true`. sshd answering its
 * banner says nothing about whether the key is still authorized, the user's shell works or the home
 * is readable; this does. Never writes a known-hosts file.
 */
export function loginHealth(server: LocalServer, timeoutMs = 5000): Promise<PartHealth> {
  const who = `${server.user}@${server.address}:${server.sshPort}`;
  let privateKey: Buffer;
  try {
    privateKey = readFileSync(server.keyPath);
  } catch (e) {
    return Promise.resolve({ ok: false, detail: `cannot read the client key ${server.keyPath}: ${(e as Error).message}; run local up to make a new one` });
  }
  return new Promise((resolve) => {
    const client = new Client();
    let seen = '';
    let settled = false;
    const done = (h: PartHealth): void => {
      if (settled) return;
      settled = true;
      client.end();
      resolve(h);
    };
    client
      .on('ready', () => runTrue(client, who, server.keyPath, done))
      .on('error', (e: Error & { level?: string }) => done(loginFailure(e, who, server, seen)))
      .connect({
        host: server.address, port: server.sshPort, username: server.user, privateKey, readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer) => {
          seen = fingerprintOf(key);
          return seen === server.hostKeyFingerprint;
        },
      });
  });
}

/** Run `true` once logged in: exit 0 means the deploy user's shell and home work. */
function runTrue(client: Client, who: string, keyPath: string, done: (h: PartHealth) => void): void {
  client.exec('true', (err, stream) => {
    if (err) return done({ ok: false, detail: `${who} let the key in but refused to run a command: ${err.message}` });
    stream.on('close', (code: number | null) => done(code === 0
      ? { ok: true, detail: `${who} logs in with ${keyPath} and runs commands` }
      : { ok: false, detail: `${who} logs in, but \`true\` exited ${code}: the deploy user's shell or home is broken` }));
    stream.resume();
    stream.stderr.resume();
  });
}

/** Why the login failed, with the fix: the key refused, a different host key (`seen`), or the connection. */
function loginFailure(e: Error & { level?: string }, who: string, server: LocalServer, seen: string): PartHealth {
  if (e.level === 'client-authentication') {
    return { ok: false, detail: `${who} refused the key ${server.keyPath} (${e.message}): the deploy user's ~/.ssh/authorized_keys does not hold ${server.keyPath}.pub; run local up to put it back` };
  }
  if (seen && seen !== server.hostKeyFingerprint) {
    return { ok: false, detail: `${who} showed host key ${seen}, not the recorded ${server.hostKeyFingerprint}; run local up` };
  }
  return { ok: false, detail: `cannot log in to ${who}: ${e.message}` };
}
