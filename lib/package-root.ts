import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Portside's own folder (where package.json, assets/ and dist/ are). Found by walking up from this
 * file, because this file runs from two places: lib/ (tests, tsx) and dist/cli.js (the built CLI).
 */
export const PACKAGE_ROOT: string = findRoot(__dirname);

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'assets'))) return dir;
    if (dirname(dir) === dir) throw new Error(`Portside's package folder was not found above ${start}`);
  }
}

/** Where `npm run build` (scripts/build.js) writes the bundles: the CLI and the server's agent. */
export const DIST_DIR = join(PACKAGE_ROOT, 'dist');
/** The files shipped to every server: the agent and the preload its services run with. */
export const SERVER_BUNDLE_DIR = join(DIST_DIR, 'server');
