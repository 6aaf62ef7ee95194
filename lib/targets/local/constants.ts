import { join } from 'node:path';

/**
 * The local stand-in server's fixed names and addresses. One stand-in per machine: every e2e suite
 * shares it, so none of these is configurable.
 *
 *   host ── portside0 10.77.0.1/30 ══ veth ══ portside1 10.77.0.2/30 ── netns "portside"
 *           (registry proxy :3128)                (sshd :22, Caddy :80/:443, pm2 services)
 */
export const NETNS = 'portside';
export const HOST_IF = 'portside0';
export const NS_IF = 'portside1';
export const HOST_ADDRESS = '10.77.0.1';
export const SERVER_ADDRESS = '10.77.0.2';
export const PREFIX_LENGTH = 30;
export const SSH_PORT = 22;
export const PROXY_PORT = 3128;
export const DEPLOY_USER = 'portside';
export const DOMAIN = 'portside.test';

/** Everything the stand-in owns on the host lives here; `local down` removes it. */
export const STATE_DIR = '/var/lib/portside-local';
/** Outside the state dir so `down` can hold it while deleting the state dir. /run is emptied at boot. */
export const LOCK_DIR = '/run/portside-local.lock';

export const PATHS = {
  serverJson: join(STATE_DIR, 'server.json'),
  www: join(STATE_DIR, 'www'),
  caddyDir: join(STATE_DIR, 'etc'),
  caddyfile: join(STATE_DIR, 'etc', 'Caddyfile'),
  seedDir: join(STATE_DIR, 'seed'),
  xdgData: join(STATE_DIR, 'caddy', 'data'),
  xdgConfig: join(STATE_DIR, 'caddy', 'config'),
  caCert: join(STATE_DIR, 'caddy', 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt'),
  sshdDir: join(STATE_DIR, 'sshd'),
  sshdConfig: join(STATE_DIR, 'sshd', 'sshd_config'),
  hostKey: join(STATE_DIR, 'sshd', 'ssh_host_ed25519_key'),
  sshdPid: join(STATE_DIR, 'sshd', 'sshd.pid'),
  clientDir: join(STATE_DIR, 'client'),
  clientKey: join(STATE_DIR, 'client', 'id_ed25519'),
  proxyPid: join(STATE_DIR, 'proxy.pid'),
  logDir: join(STATE_DIR, 'log'),
  sshdLog: join(STATE_DIR, 'log', 'sshd.log'),
  proxyLog: join(STATE_DIR, 'log', 'registry-proxy.log'),
  caddyLog: join(STATE_DIR, 'log', 'caddy.log'),
  bootstrapLog: join(STATE_DIR, 'log', 'bootstrap.log'),
} as const;

/** The repository root (assets live under it). */
export { PACKAGE_ROOT as REPO_ROOT } from '../../package-root';
