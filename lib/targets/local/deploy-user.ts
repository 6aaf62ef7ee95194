import { chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_USER } from './constants';
import { run, runOrThrow } from './exec';

export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** The account from the passwd database, or undefined when it does not exist. */
export function lookupAccount(name = DEPLOY_USER): Account | undefined {
  const r = run(['getent', 'passwd', name]);
  if (r.code !== 0) return undefined;
  const [, , uid, gid, , home] = r.stdout.trim().split(':');
  return { name, uid: Number(uid), gid: Number(gid), home };
}

/** Create a deploy user (home, bash) when missing, the single stand-in's by default; resolves to the account. */
export function ensureAccount(log: (line: string) => void, name = DEPLOY_USER): Account {
  if (!lookupAccount(name)) {
    log(`creating user "${name}"`);
    runOrThrow(['useradd', '-m', '-s', '/bin/bash', '-c', 'Portside local deploy user', name]);
  }
  // "!" (useradd's default) marks a locked account, which sshd refuses even for keys; "*" only means
  // "no password can match".
  runOrThrow(['usermod', '-p', '*', name]);
  const account = lookupAccount(name);
  if (!account) throw new Error(`useradd ${name} succeeded but getent cannot find the user`);
  if (!existsSync(account.home)) {
    mkdirSync(account.home, { recursive: true, mode: 0o750 });
    chownSync(account.home, account.uid, account.gid);
  }
  return account;
}

/** Write a file in the user's home, owned by the user. */
export function writeUserFile(account: Account, relative: string, content: string, mode: number): void {
  const file = join(account.home, relative);
  const dir = join(file, '..');
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, account.uid, account.gid);
  }
  writeFileSync(file, content, { mode });
  chownSync(file, account.uid, account.gid);
}

/** `~/.ssh/authorized_keys` holds exactly the stand-in's client key. */
export function authorizeKey(account: Account, publicKey: string): void {
  writeUserFile(account, '.ssh/authorized_keys', publicKey.trim() + '\n', 0o600);
}

/** `~/.npmrc`: the host's registry, reached through the registry proxy (the server has no other way out). */
export function renderNpmrc(registry: string, proxyUrl: string): string {
  return [
    '# Written by `portside local up`: the stand-in reaches only this registry, through the host\'s proxy.',
    `registry=${registry}`,
    `proxy=${proxyUrl}`,
    `https-proxy=${proxyUrl}`,
    'update-notifier=false',
    'fund=false',
    'audit=false',
    '',
  ].join('\n');
}

/** Remove a deploy user (the single stand-in's by default) and its home. Its processes must be stopped first. Idempotent. */
export function removeAccount(name = DEPLOY_USER): void {
  const account = lookupAccount(name);
  if (!account) return;
  // userdel exits 12 when only the mail spool is missing: the user is gone all the same.
  run(['userdel', '-r', name]);
  if (lookupAccount(name)) runOrThrow(['userdel', '-f', name]);
  if (account.home.startsWith('/home/') && existsSync(account.home)) rmSync(account.home, { recursive: true, force: true });
}
