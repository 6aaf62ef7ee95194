/**
 * A private OpenSSH server on 127.0.0.1 with throwaway keys, for tests of the SSH layer that must not
 * touch the shared stand-in: root logs in with a generated key. Started and removed by the test file.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SSHD = '/usr/sbin/sshd';

/** Why a private sshd cannot run here, or '' when it can. */
export const privateSshdUnavailable = (): string => (process.getuid?.() !== 0 ? 'needs root (sshd must run as root to log in as root)'
  : !existsSync(SSHD) ? `needs ${SSHD} (apt-get install openssh-server)` : '');

export interface PrivateSshd {
  readonly dir: string;
  readonly port: number;
  readonly keyPath: string;
  readonly hostFingerprint: string;
  readonly pid: number;
  /** sshd's log so far. */
  log(): string;
  /** Logins sshd accepted so far: each is one new SSH connection. */
  logins(): number;
  stop(): void;
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'portside-test', '-f', path]);
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    }).on('error', reject);
  });
}

/** Start sshd in the foreground (-D) and resolve once it listens. */
export async function startPrivateSshd(): Promise<PrivateSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'portside-sshd-'));
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'client'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')));
  const port = await freePort();
  const cfg = join(dir, 'sshd_config');
  writeFileSync(cfg, [
    'ListenAddress 127.0.0.1', `Port ${port}`, `HostKey ${join(dir, 'host_ed25519')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PermitRootLogin prohibit-password',
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'StrictModes no', 'UsePAM no',
    `PidFile ${join(dir, 'sshd.pid')}`, 'LogLevel INFO', '',
  ].join('\n'));
  let log = '';
  const sshd: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${log}`)), 5000);
    sshd.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('Server listening')) { clearTimeout(timer); resolve(); }
    });
    sshd.once('exit', (code) => { clearTimeout(timer); reject(new Error(`sshd exited with ${code}:\n${log}`)); });
  });
  const hostFingerprint = execFileSync('ssh-keygen', ['-lf', join(dir, 'host_ed25519.pub')], { encoding: 'utf8' }).split(' ')[1];
  return {
    dir, port, keyPath: join(dir, 'client'), hostFingerprint, pid: sshd.pid!,
    log: () => log,
    logins: () => (log.match(/Accepted publickey/g) ?? []).length,
    stop: () => {
      sshd.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
