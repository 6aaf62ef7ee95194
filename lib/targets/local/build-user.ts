import { existsSync, rmSync } from 'node:fs';
import { BOOTSTRAP_SCRIPT } from './caddy';
import { DEPLOY_USER, PATHS } from './constants';
import { lookupAccount } from './deploy-user';
import { run, runOrThrow } from './exec';

/**
 * The user that runs the install scripts a service allows (package.json "allowScripts"), never the deploy
 * user; the agent (lib/agent/install.ts) reaches it through `sudo -n -u portside-build`.
 */
export const BUILD_USER = 'portside-build';
/** The sudo rule letting the deploy user run commands as BUILD_USER (and as nobody else). */
export const BUILD_SUDOERS = '/etc/sudoers.d/portside-build';

/**
 * Make the build user, its sudo rule and the deploy user's home mode with the same bootstrap function as
 * EC2 (`bootstrap.sh --build-user`). Run at every `local up`: it is idempotent and takes ~20 ms, and a
 * stand-in laid out before the build user existed gets it without a re-bootstrap.
 */
export function ensureBuildUser(log: (line: string) => void, script = BOOTSTRAP_SCRIPT): void {
  if (!lookupAccount(BUILD_USER)) log(`creating user "${BUILD_USER}" (runs allowed install scripts) and its sudo rule ${BUILD_SUDOERS}`);
  runOrThrow(['bash', script, '--build-user'], {
    env: { ...process.env, PORTSIDE_USER: DEPLOY_USER, PORTSIDE_WWW: PATHS.www, PORTSIDE_CADDY_DIR: PATHS.caddyDir, PORTSIDE_LOG: PATHS.bootstrapLog },
  });
}

/** Remove the build user, its home and its sudo rule. Idempotent. */
export function removeBuildUser(): void {
  const account = lookupAccount(BUILD_USER);
  if (account) {
    run(['userdel', '-r', BUILD_USER]);
    if (lookupAccount(BUILD_USER)) runOrThrow(['userdel', '-f', BUILD_USER]);
    if (account.home === `/var/lib/${BUILD_USER}` && existsSync(account.home)) rmSync(account.home, { recursive: true, force: true });
  }
  rmSync(BUILD_SUDOERS, { force: true });
}
