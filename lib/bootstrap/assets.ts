import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root';

/** The repository's assets folder, found from this file so it works from any working directory. */
export const ASSETS_DIR = join(PACKAGE_ROOT, 'assets');

/** assets/bootstrap.sh, the script the UserData stub fetches and runs (and the local stand-in runs with --local). */
export function readBootstrapScript(): string {
  return readFileSync(join(ASSETS_DIR, 'bootstrap.sh'), 'utf8');
}

/** assets/www/index.html, the home page a new server shows until a site is deployed. */
export function readDefaultHomePage(): string {
  return readFileSync(join(ASSETS_DIR, 'www', 'index.html'), 'utf8');
}

/** assets/user-data.sh, the constant UserData body that fetches the bootstrap from the instance's metadata. */
export function readUserDataStub(): string {
  return readFileSync(join(ASSETS_DIR, 'user-data.sh'), 'utf8');
}

/** Where the fleet's converge hook is in this package (the local fleet runs it from here). */
export const CONVERGE_HOOK_SCRIPT = join(PACKAGE_ROOT, 'lib', 'fleet', 'portside-converge.sh');

/**
 * The fleet's converge hook (lib/fleet/portside-converge.sh, the fleet contract): a fleet server installs it
 * from its launch template's metadata and runs it at boot, before it reports success.
 */
export function readConvergeHook(): string {
  return readFileSync(CONVERGE_HOOK_SCRIPT, 'utf8');
}
