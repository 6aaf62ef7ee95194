/**
 * The SSH layer against a real OpenSSH server: a private sshd on 127.0.0.1 with throwaway keys,
 * started for this file only and removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  HostKeyMismatchError, openSsh, RemoteAbortError, RemoteCommandError, RemoteTimeoutError,
  SshConnectionError, SshSession, SshTarget,
} from '../../lib/ssh';
import { freePort, privateSshdUnavailable, startPrivateSshd, type PrivateSshd } from '../support/private-sshd';

const skipReason = privateSshdUnavailable();
const describeSshd = skipReason ? describe.skip : describe;
if (skipReason) console.warn(`test/e2e/ssh.test.ts skipped: ${skipReason}`);

let srv: PrivateSshd | undefined;
let dir = '';
let port = 0;
let clientKey = '';
let hostFingerprint = '';

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'portside-test', '-f', path]);
}
function fingerprintOfFile(pubPath: string): string {
  return execFileSync('ssh-keygen', ['-lf', pubPath], { encoding: 'utf8' }).split(' ')[1];
}
let knownHostsCounter = 0;
/** A target with a fresh, empty known-hosts file unless one is given. */
function target(over: Partial<SshTarget> = {}): SshTarget {
  return {
    host: '127.0.0.1', port, user: 'root', privateKey: clientKey, label: 'the test sshd',
    knownHostsPath: join(dir, `kh-${++knownHostsCounter}`, 'known_hosts'),
    readyTimeoutMs: 5000, ...over,
  };
}
const acceptedLogins = () => srv?.logins() ?? 0;

async function expectProcessGone(s: SshSession, pid: string): Promise<void> {
  expect(pid).toMatch(/^\d+$/);
  const alive = async () => (await s.exec(['kill', '-0', pid])).code === 0;
  for (let i = 0; i < 40 && (await alive()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await alive()).toBe(false);
}

beforeAll(async () => {
  if (skipReason) return;
  srv = await startPrivateSshd();
  ({ dir, port, hostFingerprint } = srv);
  clientKey = readFileSync(srv.keyPath, 'utf8');
});

afterAll(() => {
  if (process.env.SSHD_LOG) console.log(srv?.log());
  srv?.stop();
});

describeSshd('an SSH session against a real sshd', () => {
  let s: SshSession;
  beforeAll(async () => { s = await openSsh(target()); });
  afterAll(async () => { await s?.close(); });

  test('exec resolves stdout, stderr and the exit code without throwing on failure', async () => {
    const r = await s.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 3 });
  });

  test('run throws RemoteCommandError carrying command, code and stderr', async () => {
    const e = await s.run(['ls', '/no/such dir']).catch((x) => x);
    expect(e).toBeInstanceOf(RemoteCommandError);
    expect(e.command).toBe(`ls '/no/such dir'`);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('No such file or directory');
    expect(e.message).toContain(`ls '/no/such dir'`);
  });

  test('hostile arguments arrive byte-exact and execute nothing', async () => {
    const marker = join(dir, 'pwned');
    const hostile = [
      `it's "quoted"`, 'two\nlines\n', `$(touch ${marker})`, `\`touch ${marker}\``, `;rm -rf ${marker}; touch ${marker}`,
      '-n', '', ' spaced  out ', '*', '~', '$HOME', `'`, `\\'\\`, 'a=$(id)', '|&<>#!', 'ünïcødé ✓', '\t\r',
    ];
    const chunks: Buffer[] = [];
    const r = await s.exec(['printf', '%s\\0', ...hostile], { onStdout: (c) => chunks.push(c) });
    expect(r).toExitWith(0);
    const expected = Buffer.concat(hostile.map((h) => Buffer.from(h + '\0')));
    expect(Buffer.concat(chunks).equals(expected)).toBe(true);
    expect(existsSync(marker)).toBe(false);
  });

  test('stdin as a string reaches the command', async () => {
    const r = await s.run(['cat'], { stdin: 'hello\nworld' });
    expect(r.stdout).toBe('hello\nworld');
  });

  test('a 5 MB stdin stream arrives intact (cat | sha256sum)', async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const parts = Array.from({ length: 80 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    const r = await s.run(['sh', '-c', 'cat | sha256sum'], { stdin: Readable.from(parts) });
    expect(r.stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  test('concurrent execs share the connection, beyond sshd MaxSessions 10', async () => {
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: 14 }, (_, i) => s.run(['sh', '-c', `sleep 0.3; echo ${i}`])),
    );
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 14 }, (_, i) => String(i)));
    expect(Date.now() - t0).toBeLessThan(14 * 300);
  });

  test('abort closes the channel at once: the call rejects and the remote command stops', async () => {
    const ac = new AbortController();
    let out = '';
    const t0 = Date.now();
    // sshd refuses signal requests for root sessions (no post-auth privilege separation), so here the
    // command stops the way any command does once its channel is gone: its next write fails (SIGPIPE).
    // SIGHUP delivery to a non-root session is covered against the local server (ssh-local.test.ts).
    const p = s.exec(['sh', '-c', 'echo $$; while :; do echo tick; sleep 0.05; done'], {
      signal: ac.signal,
      onStdout: (c) => { out += c.toString(); if (out.includes('tick')) ac.abort(); },
    });
    await expect(p).rejects.toBeInstanceOf(RemoteAbortError);
    expect(Date.now() - t0).toBeLessThan(2000);
    await expectProcessGone(s, out.split('\n')[0]);
  });

  test('timeoutMs stops a command that runs too long', async () => {
    const t0 = Date.now();
    await expect(s.exec(['sleep', '30'], { timeoutMs: 300 })).rejects.toBeInstanceOf(RemoteTimeoutError);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test('the session reports the host key fingerprint as ssh-keygen prints it', () => {
    expect(s.hostKeyFingerprint).toBe(hostFingerprint);
  });
});

describeSshd('host key pinning', () => {
  test('first contact pins [host]:port in a 0600 file inside a 0700 directory', async () => {
    const t = target();
    const s = await openSsh(t);
    await s.close();
    const text = readFileSync(t.knownHostsPath!, 'utf8');
    const hostPub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    expect(text).toBe(`[127.0.0.1]:${port} ${hostPub}\n`);
    expect(statSync(t.knownHostsPath!).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.knownHostsPath!, '..')).mode & 0o777).toBe(0o700);
    // second contact: accepted, file unchanged
    await (await openSsh(t)).close();
    expect(readFileSync(t.knownHostsPath!, 'utf8')).toBe(text);
  });

  test('a tampered pin refuses before authentication and no command runs', async () => {
    const t = target();
    keygen(join(dir, 'impostor'));
    const impostor = readFileSync(join(dir, 'impostor.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    mkdirSync(join(t.knownHostsPath!, '..'), { recursive: true });
    writeFileSync(t.knownHostsPath!, `[127.0.0.1]:${port} ${impostor}\n`);
    const marker = join(dir, 'ran-after-mismatch');
    const loginsBefore = acceptedLogins();

    const e = await openSsh(t).then((s) => s.run(['touch', marker])).catch((x) => x);

    expect(e).toBeInstanceOf(HostKeyMismatchError);
    expect(e.expected).toBe(fingerprintOfFile(join(dir, 'impostor.pub')));
    expect(e.received).toBe(hostFingerprint);
    expect(e.message).toContain(e.expected);
    expect(e.message).toContain(e.received);
    expect(e.message).toContain(t.knownHostsPath);
    expect(e.message).toContain('rebuilt');
    expect(existsSync(marker)).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(acceptedLogins()).toBe(loginsBefore);
  });

  test('expectedFingerprints that do not match are refused and nothing is pinned', async () => {
    const t = target({ expectedFingerprints: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'], expectedFingerprintsSource: 'the console output of i-0test' });
    const e = await openSsh(t).catch((x) => x);
    expect(e).toBeInstanceOf(HostKeyMismatchError);
    expect(e.received).toBe(hostFingerprint);
    expect(e.message).toContain('the console output of i-0test');
    expect(existsSync(t.knownHostsPath!)).toBe(false);
  });

  test('expectedFingerprints that match are accepted and pinned', async () => {
    const t = target({ expectedFingerprints: ['SHA256:AAAA', hostFingerprint] });
    await (await openSsh(t)).close();
    expect(readFileSync(t.knownHostsPath!, 'utf8')).toContain(`[127.0.0.1]:${port} ssh-ed25519 `);
  });
});

describeSshd('connection failures', () => {
  test('a key the server does not accept: auth failure naming user, host:port and --key, without the key', async () => {
    keygen(join(dir, 'stranger'));
    const strangerKey = readFileSync(join(dir, 'stranger'), 'utf8');
    const e = await openSsh(target({ privateKey: strangerKey })).catch((x) => x);
    expect(e).toBeInstanceOf(SshConnectionError);
    expect(e.reason).toBe('auth');
    expect(e.message).toContain(`root@127.0.0.1:${port}`);
    expect(e.message).toContain('--key');
    expect(e.message).toContain('npx portside local up');
    const keyBody = strangerKey.split('\n')[1];
    expect(e.message).not.toContain(keyBody);
    expect(e.stack).not.toContain(keyBody);
  });

  test('a server that never answers: timeout naming host:port and the security group', async () => {
    const silent = createServer(() => { /* accept and say nothing */ });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      const e = await openSsh(target({ port: silentPort, readyTimeoutMs: 500 })).catch((x) => x);
      expect(e).toBeInstanceOf(SshConnectionError);
      expect(e.reason).toBe('timeout');
      expect(e.message).toContain(`root@127.0.0.1:${silentPort}`);
      expect(e.message).toContain('security group');
    } finally {
      silent.close();
    }
  });

  test('nothing listening: connection refused naming host:port', async () => {
    const closedPort = await freePort();
    const e = await openSsh(target({ port: closedPort })).catch((x) => x);
    expect(e).toBeInstanceOf(SshConnectionError);
    expect(e.reason).toBe('refused');
    expect(e.message).toContain(`root@127.0.0.1:${closedPort}`);
    expect(e.message).toMatch(/connection refused/);
  });
});
