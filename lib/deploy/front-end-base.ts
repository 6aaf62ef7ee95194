import { Routing } from '../config/portside-config';

/**
 * The URL path a service's pages are served under: `/` by subdomain, `/<name>/` by path. A front end
 * built for `/` names its files `/assets/…`, which under path routing reach the root site instead.
 */
export function servedBase(routing: Routing, name: string): string {
  return routing === 'path' ? `/${name}/` : '/';
}

/**
 * A Vite build as the last command of an npm script (`vite build`, `tsc && vite build --mode x`):
 * arguments after `npm run <script> --` are appended to the script's text, so they reach it.
 */
const VITE_BUILD_LAST = /(?:^|&&|;|\|\||\s)(?:npx\s+)?vite\s+build\b[^&;|]*$/;

/**
 * The build's argv for `base`, or undefined when the build cannot be told its base (not a Vite build
 * as the script's last command). `base` `/` is Vite's default: the argv is unchanged, so a build for a
 * subdomain is byte-for-byte the build the student runs by hand. Pure.
 */
export function buildArgvFor(argv: readonly string[], scriptText: string | undefined, base: string): readonly string[] | undefined {
  if (base === '/') return argv;
  if (!/^\/[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*\/$/.test(base)) throw new Error(`not a base path: ${JSON.stringify(base)}`);
  if (scriptText === undefined || !VITE_BUILD_LAST.test(scriptText.trim())) return undefined;
  return [...argv, '--', `--base=${base}`];
}
