import { join } from 'node:path';
import { STATE_DIR } from './constants';

/**
 * The local fleet's fixed names and addresses (issue #10): N stand-in servers, a load balancer standing in
 * for the ALB and an S3-compatible store, each in its own network namespace on one host bridge. Apart from
 * the single stand-in (10.77.0.0/30, netns "portside", /var/lib/portside-local): both can run at once.
 *
 *   host psfleet0 10.77.1.1/24 (registry proxy :3128)
 *     ├─ pf-lb     ══ netns portside-lb     10.77.1.2  Caddy :443 (local CA) / :80 → https, round robin
 *     ├─ pf-store  ══ netns portside-store  10.77.1.3  fauxqs (S3 API) :4566
 *     └─ pf-s<i>   ══ netns portside-s<i>   10.77.1.(10+i)  sshd :22, Caddy :80 (plain HTTP), pm2
 */
export const FLEET_BRIDGE = 'psfleet0';
export const FLEET_HOST_ADDRESS = '10.77.1.1';
export const FLEET_PREFIX_LENGTH = 24;
export const LB_NETNS = 'portside-lb';
export const LB_ADDRESS = '10.77.1.2';
export const STORE_NETNS = 'portside-store';
export const STORE_ADDRESS = '10.77.1.3';
export const STORE_PORT = 4566;
/** The S3 bucket `local up --servers` creates: the local stand-in for the stack's ReleasesBucketName. */
export const STORE_BUCKET = 'portside-fleet-releases';
export const STORE_REGION = 'us-east-1';
/** Throwaway credentials: the store checks no signature; they exist because the SDK signs every request. */
export const STORE_CREDENTIALS = { accessKeyId: 'portside-local', secretAccessKey: 'portside-local-not-secret' } as const;
export const FLEET_DOMAIN = 'fleet.portside.test';
/** Servers 1…MAX_FLEET_SERVERS get 10.77.1.11…: the /24 has room for more, a laptop does not. */
export const MAX_FLEET_SERVERS = 20;
/**
 * How often the load balancer asks each server for /_portside/health. The ALB asks every 10 s and needs
 * 2 failures; locally a server leaves the rotation within about one interval (Caddy 2.6.2: one failure).
 */
export const LB_HEALTH_INTERVAL_MS = 1000;

/**
 * The fleet's own state, outside /var/lib/portside-local on purpose: the single stand-in's `up` stops any
 * process in another namespace whose command line names its state dir (strandedPids), which would take
 * every fleet sshd and Caddy with it. fleet.json alone lives in the single stand-in's dir (the contract).
 */
export const FLEET_DIR = '/var/lib/portside-fleet';
export const FLEET_JSON = join(STATE_DIR, 'fleet.json');

export const FLEET_PATHS = {
  clientDir: join(FLEET_DIR, 'client'),
  clientKey: join(FLEET_DIR, 'client', 'id_ed25519'),
  logDir: join(FLEET_DIR, 'log'),
  proxyPid: join(FLEET_DIR, 'registry-proxy.pid'),
  proxyLog: join(FLEET_DIR, 'log', 'registry-proxy.log'),
  storeJson: join(FLEET_DIR, 'store.json'),
  storePid: join(FLEET_DIR, 'store.pid'),
  storeLog: join(FLEET_DIR, 'log', 'store.log'),
  lbDir: join(FLEET_DIR, 'lb'),
  lbCaddyfile: join(FLEET_DIR, 'lb', 'Caddyfile'),
  lbXdgData: join(FLEET_DIR, 'lb', 'caddy', 'data'),
  lbXdgConfig: join(FLEET_DIR, 'lb', 'caddy', 'config'),
  lbCaCert: join(FLEET_DIR, 'lb', 'caddy', 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt'),
  lbLog: join(FLEET_DIR, 'log', 'lb-caddy.log'),
} as const;

/** Everything that names one fleet server, from its number (1-based). */
export interface FleetServerSpec {
  readonly index: number;
  /** `s<i>`: short, for logs and fleet.json. */
  readonly name: string;
  readonly netns: string;
  /** The host side of its veth (IFNAMSIZ allows 15 characters). */
  readonly hostIf: string;
  readonly address: string;
  /** Its deploy user: servers share one filesystem here, so each needs its own home (pm2, registry, releases). */
  readonly user: string;
  readonly dir: string;
  readonly caddyDir: string;
  readonly caddyfile: string;
  readonly www: string;
  readonly seedDir: string;
  readonly xdgData: string;
  readonly xdgConfig: string;
  readonly hostKey: string;
  readonly sshdConfig: string;
  readonly sshdPid: string;
  readonly sshdLog: string;
  readonly caddyLog: string;
  readonly bootstrapLog: string;
}

/** The names, address and paths of fleet server `index` (1-based; pure). */
export function fleetServerSpec(index: number): FleetServerSpec {
  if (!Number.isInteger(index) || index < 1 || index > MAX_FLEET_SERVERS) {
    throw new RangeError(`fleet server number ${index} is outside 1…${MAX_FLEET_SERVERS}`);
  }
  const name = `s${index}`;
  const dir = join(FLEET_DIR, name);
  return {
    index, name, netns: `portside-${name}`, hostIf: `pf-${name}`, address: `10.77.1.${10 + index}`, user: `portside-${name}`,
    dir, caddyDir: join(dir, 'etc'), caddyfile: join(dir, 'etc', 'Caddyfile'), www: join(dir, 'www'), seedDir: join(dir, 'seed'),
    xdgData: join(dir, 'caddy', 'data'), xdgConfig: join(dir, 'caddy', 'config'),
    hostKey: join(dir, 'sshd', 'ssh_host_ed25519_key'), sshdConfig: join(dir, 'sshd', 'sshd_config'), sshdPid: join(dir, 'sshd', 'sshd.pid'),
    sshdLog: join(FLEET_DIR, 'log', `${name}-sshd.log`), caddyLog: join(FLEET_DIR, 'log', `${name}-caddy.log`),
    bootstrapLog: join(FLEET_DIR, 'log', `${name}-bootstrap.log`),
  };
}
