// The keeper: a background process the CLI leaves behind after a command over SSH (keep.ts), like
// OpenSSH's ControlPersist master. It holds one authenticated connection (host key checked as the CLI
// checks it), serves the CLI's commands on a Unix socket only this user can open, keeps a standby agent
// started, and exits when idle, when the connection closes, or when asked. scripts/build.js bundles it
// to dist/keeper.js.
import { appendFileSync, chmodSync, existsSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { writeFileAtomic } from '../../fs/write-atomic';
import { openSsh } from '../connection';
import { readPrivateKeyFile } from '../key-file';
import type { KeeperConfig } from './config';
import { identityHash, keeperFiles } from './identity';
import { ensurePrivateDir } from './private-dir';
import { serveKeeper } from './serve';

async function main(): Promise<void> {
  process.umask(0o077); // the socket, its info and its log: this user's only, from the moment they exist
  const config = JSON.parse(process.argv[2] ?? '{}') as KeeperConfig;
  const files = keeperFiles(config.home, config.hash);
  if (!files.socketFits || ensurePrivateDir(files.dir)) return;
  const log = (line: string): void => appendFileSync(files.log, `${new Date().toISOString()} ${line}\n`);
  // Two CLIs may each leave a keeper behind at once: the second leaves the first (and its log) alone.
  if (await answers(files.socket)) return;
  writeFileSync(files.log, '');
  const privateKey = await readPrivateKeyFile(config.keyPath, 'the key file');
  if (identityHash({ ...config, privateKey }) !== config.hash) return log('the key file changed since the CLI read it: not keeping');
  const session = await openSsh({ ...config, privateKey });
  if (await answers(files.socket)) return void (await session.close()); // another one got there while this one connected
  rmSync(files.socket, { force: true });
  const { server, ended } = await serveKeeper({ session, socketPath: files.socket, idleMs: config.idleMs, agentPath: config.agentPath, log });
  chmodSync(files.socket, 0o600); // in a 0700 folder already; OpenSSH makes its control socket 0600 too
  // This keeper's own socket file: a keeper exiting as the next one starts must not remove the new one's
  // socket (it did, between the new one's listen and its info file: the new one's chmod failed ENOENT).
  const socketIno = lstatSync(files.socket).ino;
  // Whole or not at all (a CLI or `local down` may read it at any moment): written aside, then renamed.
  writeFileAtomic(files.info, JSON.stringify({ pid: process.pid, host: config.host, port: config.port, user: config.user }), 0o600);
  log(`connected to ${config.label ?? config.host} as ${config.user}; serving ${files.socket}; idle limit ${Math.round(config.idleMs / 1000)} s`);
  process.once('SIGTERM', () => void shutDown('SIGTERM'));
  async function shutDown(why: string): Promise<never> {
    log(`exiting: ${why}`);
    server.close();
    if (ownSocket(files.socket, socketIno)) rmSync(files.socket, { force: true });
    if (ownInfo(files.info)) rmSync(files.info, { force: true });
    await session.close();
    process.exit(0);
  }
  await shutDown(await ended);
}

/** Whether `socket` is still the socket file this keeper made (inode `ino`), not a newer keeper's. */
function ownSocket(socket: string, ino: number): boolean {
  try {
    return lstatSync(socket).ino === ino;
  } catch {
    return false;
  }
}

/** Whether a keeper already answers on `socket` (two CLIs may each leave one behind at once). */
function answers(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = connect(socket, () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Whether the info file is this process's: another keeper may have taken the socket over since. */
function ownInfo(info: string): boolean {
  try {
    return (JSON.parse(readFileSync(info, 'utf8')) as { pid: number }).pid === process.pid;
  } catch {
    return false;
  }
}

process.title = 'portside-keeper';
main().catch((e: Error) => {
  process.exitCode = 1;
  try {
    const config = JSON.parse(process.argv[2] ?? '{}') as KeeperConfig;
    appendFileSync(keeperFiles(config.home, config.hash).log, `${new Date().toISOString()} failed: ${e.message}\n`);
  } catch {
    // nowhere to say it; the CLI connects directly next time
  }
  process.exit(1);
});
