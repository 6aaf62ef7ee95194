import { join } from 'node:path';

/**
 * A course-shaped server for `portside adopt` tests: built by hand the way the course's students build
 * theirs (user `ubuntu`, Node from nvm, pm2 fork processes, a hand-written Caddyfile), and kept apart
 * from the shared stand-in "portside" (10.77.0.0/30) in every way: its own network namespace, its own
 * mount namespace (its /etc/caddy, /usr/share/caddy, /home and user database are private to it, so the
 * host's files are never touched), its own sshd, Caddy and pm2.
 *
 *   host ── pscourse0 10.78.0.1/30 ══ veth ══ pscourse1 10.78.0.2/30 ── netns "portside-course"
 */
export const COURSE_NETNS = 'portside-course';
export const COURSE_HOST_IF = 'pscourse0';
export const COURSE_NS_IF = 'pscourse1';
export const COURSE_HOST_ADDRESS = '10.78.0.1';
export const COURSE_ADDRESS = '10.78.0.2';
export const COURSE_PREFIX_LENGTH = 30;
export const COURSE_SSH_PORT = 22;
export const COURSE_USER = 'ubuntu';
/** Outside the host's usual system range and the shared stand-in's users; checked free before use. */
export const COURSE_UID = 2260;
export const COURSE_DOMAIN = 'course.test';
/** The version folder nvm would make for this machine's Node (the real version, as nvm names it). */
export const NODE_VERSION_DIR = process.version;

/** Everything the course server owns on the host; `courseDown` removes it. */
export const COURSE_STATE_DIR = '/var/lib/portside-course';

export const COURSE_PATHS = {
  /** pid (on the host) of the server's init: pid 1 of its pid namespace (namespaces.ts). */
  holderPid: join(COURSE_STATE_DIR, 'init.pid'),
  /** Bound over /etc/passwd, /etc/group, /etc/shadow inside: the host's plus `ubuntu`. */
  etc: join(COURSE_STATE_DIR, 'etc'),
  /** Bound over /etc/caddy. */
  etcCaddy: join(COURSE_STATE_DIR, 'etc-caddy'),
  /** Bound over /usr/share/caddy. */
  shareCaddy: join(COURSE_STATE_DIR, 'share-caddy'),
  /** Bound over /home. */
  home: join(COURSE_STATE_DIR, 'home'),
  /** Bound over /usr/lib/node_modules: no system npm or pm2 inside. */
  emptyDir: join(COURSE_STATE_DIR, 'empty'),
  sshdDir: join(COURSE_STATE_DIR, 'sshd'),
  sshdConfig: join(COURSE_STATE_DIR, 'sshd', 'sshd_config'),
  hostKey: join(COURSE_STATE_DIR, 'sshd', 'ssh_host_ed25519_key'),
  sshdPid: join(COURSE_STATE_DIR, 'sshd', 'sshd.pid'),
  clientKey: join(COURSE_STATE_DIR, 'client', 'id_ed25519'),
  caddyData: join(COURSE_STATE_DIR, 'caddy'),
  /** overlayfs upper and work folders for /usr/bin inside (whiteouts hide the system node, npm, pm2). */
  usrBin: join(COURSE_STATE_DIR, 'usr-bin'),
  logDir: join(COURSE_STATE_DIR, 'log'),
  /** What `pm2 startup` wrote (the server's /etc/systemd/system/pm2-ubuntu.service; see reboot.ts). */
  pm2Unit: join(COURSE_STATE_DIR, 'systemd', 'pm2-ubuntu.service'),
} as const;

/** Paths as the course server itself sees them (inside its mount namespace). */
export const ON_SERVER = {
  home: `/home/${COURSE_USER}`,
  caddyfile: '/etc/caddy/Caddyfile',
  staticRoot: '/usr/share/caddy',
  nodeBin: `/home/${COURSE_USER}/.nvm/versions/node/${NODE_VERSION_DIR}/bin`,
  /** pm2's bin as `require.main.filename` names it (what `pm2 startup` writes into the unit), under nvm's Node. */
  pm2Path: `/home/${COURSE_USER}/.nvm/versions/node/${NODE_VERSION_DIR}/lib/node_modules/pm2/bin/pm2`,
} as const;
