/**
 * The one map of a Portside server: where things live, which ports it holds, how many of each
 * thing it keeps. The agent (bundled from lib/agent), the CLI, doctor and the tests all import it;
 * a path, port or count written anywhere else is a second definition.
 *
 * Paths are relative to the deploy user's home (an SSH session starts there, so no absolute home
 * path is ever needed); `onServer(home, path)` makes one absolute where the agent needs it. EC2 and
 * the local stand-in share this layout; only the static site and the Caddyfile differ, and the
 * registry records those (`Registry.paths`).
 *
 *   ~/.portside/registry.json            the service registry
 *   ~/.portside/registry.history/        its last REGISTRY_HISTORY_KEEP versions (newest = current)
 *   ~/.portside/caddyfile.history/       every Caddyfile a change replaced (the last REGISTRY_HISTORY_KEEP)
 *   ~/.portside/lock/owner.json          the per-server deploy lock (mkdir is atomic)
 *   ~/.portside/bin/<version>/           the agent bundle, one folder per version
 *   ~/.portside/bin/preload.js           the preload every service runs with (stable path for pm2)
 *   ~/.portside/health-token             the secret that marks Portside's own health checks
 *   ~/.portside/probes/<pgid>            probe process groups a killed deploy may have left
 *   ~/services/<name>/releases/<id>/     one folder per release, with .portside-release.json
 *   ~/services/<name>/releases/.next-<id>/  the next deploy's copy of release <id> (hard links, made in the background)
 *   ~/services/<name>/current            symlink → releases/<id> (switched atomically)
 *   ~/services/<name>/deploys.json       release history: id, deployed at, by
 *   ~/services/<name>/pm2.json           the pm2 process definition of the current release
 *   <paths.www>/releases/<id>/, <paths.www>/current   the static site, the same way
 */
import { RESERVED_PORTS, SERVICE_PORT_MAX } from '../ports/ranges';

export const PORTSIDE_DIR = '.portside';
export const REGISTRY_FILE = `${PORTSIDE_DIR}/registry.json`;
export const REGISTRY_HISTORY_DIR = `${PORTSIDE_DIR}/registry.history`;
export const CADDYFILE_HISTORY_DIR = `${PORTSIDE_DIR}/caddyfile.history`;
export const LOCK_DIR = `${PORTSIDE_DIR}/lock`;
export const LOCK_OWNER_FILE = `${LOCK_DIR}/owner.json`;
export const BIN_DIR = `${PORTSIDE_DIR}/bin`;
export const PRELOAD_FILE = `${BIN_DIR}/preload.js`;
export const HEALTH_TOKEN_FILE = `${PORTSIDE_DIR}/health-token`;
export const PROBES_DIR = `${PORTSIDE_DIR}/probes`;
export const SERVICES_DIR = 'services';
/**
 * A link to the Node the agent runs with, when `node` is not on a non-interactive PATH (an adopted
 * nvm server): the agent runs through it, with its folder (node, npm, pm2) first on the PATH.
 */
export const NODE_LINK = `${PORTSIDE_DIR}/node`;
/** What `portside adopt` recorded before changing anything (undo puts it back), and its own files. */
export const ADOPT_DIR = `${PORTSIDE_DIR}/adopt`;

/** Files inside a release folder (and, for the env file, beside it as the service's last one). */
export const RELEASE_MANIFEST = '.portside-release.json';
/** Beside the manifest: the same without the file list, with the files' digest (a deploy reads this, not 5,000 entries). */
export const RELEASE_SUMMARY = '.portside-release-summary.json';
export const RELEASE_ENV_FILE = '.portside.env';
/**
 * Files beside the live Caddyfile: the configuration a later `cdk deploy` declared (written by
 * assets/bootstrap.sh's cfn-hup hook, adopted by `sync-config`), and the prefix of a candidate
 * Caddyfile being validated (a killed deploy's leftovers are removed by that prefix).
 */
export const DECLARED_FILE = 'declared.json';
export const CADDYFILE_CANDIDATE_PREFIX = '.Caddyfile.new-';
/**
 * A fleet server's health check (the load balancer's, and the local fleet's stand-in for it): Caddy answers
 * `GET HEALTH_PATH` on HTTP_PORT itself, 200 while CONVERGED_MARKER_FILE exists beside the live Caddyfile,
 * else 503. The converge step writes the marker (atomically) only after every registered service passed its
 * probe and removes it before converging. Beside the Caddyfile, not in the home: Caddy (user `caddy` on EC2)
 * can read that folder, not the deploy user's 0750 home; and the deploy user owns it already.
 */
export const HEALTH_PATH = '/_portside/health';
export const CONVERGED_MARKER_FILE = 'portside-converged';
/**
 * Beside CONVERGED_MARKER_FILE while a fleet server's boot converge runs (lib/fleet/portside-converge.sh
 * creates it first, the agent's `converge` removes it before its last read of the manifest): a rollout
 * leaves such a server to its boot, which ends on the manifest current when it finishes.
 */
export const BOOTING_MARKER_FILE = 'portside-booting';
/** Files in a service's folder. */
export const CURRENT_LINK = 'current';
export const RELEASES_SUBDIR = 'releases';
export const DEPLOYS_FILE = 'deploys.json';
export const PM2_FILE = 'pm2.json';

/** Releases kept per service (the current one included); older ones are removed after a deploy. */
export const KEEP_RELEASES = 5;
/** Versions of the registry and of replaced Caddyfiles kept in their history folders. */
export const REGISTRY_HISTORY_KEEP = 10;
/** Entries kept in a service's deploys.json. */
export const DEPLOY_HISTORY_KEEP = 50;

/** The ports the server holds for itself (sshd, Caddy), by role. */
export const SSH_PORT = 22;
export const HTTP_PORT = 80;
export const HTTPS_PORT = 443;
export const CADDY_ADMIN_PORT = 2019;
/** Every port the server holds, from lib/ports (the one place port numbers live). */
export const SERVER_PORTS: readonly number[] = RESERVED_PORTS.map((r) => r.port);

/**
 * Where a new release's probe listens before it takes the real port: the dynamic range, which no
 * service may be assigned (RFC 6335), so a probe can never collide with a service.
 */
export const PROBE_PORT_MIN = SERVICE_PORT_MAX + 1;
export const PROBE_PORT_MAX = 65535;

export function serviceDir(name: string): string {
  return `${SERVICES_DIR}/${name}`;
}
export function releasesDir(name: string): string {
  return `${serviceDir(name)}/${RELEASES_SUBDIR}`;
}
export function releaseDir(name: string, id: string): string {
  return `${releasesDir(name)}/${id}`;
}
export function currentLink(name: string): string {
  return `${serviceDir(name)}/${CURRENT_LINK}`;
}

/** An absolute path on the server from a path of this map (the agent knows its home). */
export function onServer(home: string, relative: string): string {
  return `${home.replace(/\/+$/, '')}/${relative}`;
}
