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

/** Whose sudo rule `ensureBuildUser` writes, and where (the single stand-in's by default). */
export interface BuildRule {
  readonly user: string;
  readonly www: string;
  readonly caddyDir: string;
  readonly log: string;
  readonly sudoers: string;
}

const STAND_IN_RULE: BuildRule = { user: DEPLOY_USER, www: PATHS.www, caddyDir: PATHS.caddyDir, log: PATHS.bootstrapLog, sudoers: BUILD_SUDOERS };

/**
 * Make the build user, a deploy user's sudo rule and its home mode with the same bootstrap function as
 * EC2 (`bootstrap.sh --build-user`). Run at every `local up`: it is idempotent and takes ~20 ms, and a
 * stand-in laid out before the build user existed gets it without a re-bootstrap.
 */
export function ensureBuildUser(log: (line: string) => void, script = BOOTSTRAP_SCRIPT, rule: BuildRule = STAND_IN_RULE): void {
  if (!lookupAccount(BUILD_USER)) log(`creating user "${BUILD_USER}" (runs allowed install scripts) and its sudo rule ${rule.sudoers}`);
  runOrThrow(['bash', script, '--build-user'], {
    env: {
      ...process.env, PORTSIDE_USER: rule.user, PORTSIDE_WWW: rule.www, PORTSIDE_CADDY_DIR: rule.caddyDir, PORTSIDE_LOG: rule.log,
      PORTSIDE_BUILD_SUDOERS: rule.sudoers,
      // The deploy user's home (bootstrap.sh chmods it), never the CLI's own PORTSIDE_HOME (its state dir).
      PORTSIDE_HOME: lookupAccount(rule.user)?.home,
    },
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
