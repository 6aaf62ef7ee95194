import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../../fs/write-atomic';
import { HEALTH_PATH, HTTP_PORT, HTTPS_PORT, SSH_PORT } from '../../remote/layout';
import {
  FLEET_DOMAIN, FLEET_HOST_ADDRESS, FLEET_JSON, FLEET_PATHS, FleetServerSpec, fleetServerSpec, LB_ADDRESS, LB_HEALTH_INTERVAL_MS, STORE_ADDRESS,
  STORE_BUCKET, STORE_CREDENTIALS, STORE_PORT, STORE_REGION,
} from './fleet-constants';
import { PROXY_PORT } from './constants';
import { LocalServer } from './local-server';
import { isAlive, readPid } from './processes';

/** One server of the local fleet: how to reach it like the single stand-in (a LocalServer), plus its names. */
export interface LocalFleetServer extends LocalServer {
  /** `s<i>`. */
  readonly name: string;
  /** Its network namespace. */
  readonly netns: string;
}

/** The S3-compatible store's settings, as @aws-sdk/client-s3 takes them (throwaway credentials). */
export interface LocalStore {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  /** The store serves buckets as paths (`/<bucket>/<key>`), not as host names. */
  readonly forcePathStyle: true;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The local fleet as `local up --servers N --json` prints it and /var/lib/portside-local/fleet.json holds it. */
export interface LocalFleet {
  readonly version: 1;
  readonly domain: string;
  /** The load balancer's local CA root: trust it (only for this fleet) to verify https://<domain>/. */
  readonly caCertPath: string;
  readonly loadBalancer: {
    readonly address: string;
    readonly httpsPort: number;
    readonly httpPort: number;
    readonly healthPath: string;
    readonly healthIntervalMs: number;
  };
  readonly servers: readonly LocalFleetServer[];
  readonly store: LocalStore & { readonly credentialsFile: string };
  /** The npm proxy the servers reach the registry through. */
  readonly registryProxy: string;
}

/** The store's settings (pure): what store.json holds. */
export function localStore(): LocalStore {
  return {
    endpoint: `http://${STORE_ADDRESS}:${STORE_PORT}`, bucket: STORE_BUCKET, region: STORE_REGION, forcePathStyle: true,
    accessKeyId: STORE_CREDENTIALS.accessKeyId, secretAccessKey: STORE_CREDENTIALS.secretAccessKey,
  };
}

/** The fleet's description from its servers and their host keys' fingerprints (pure; same order as `servers`). */
export function describeFleet(servers: readonly FleetServerSpec[], fingerprints: readonly string[]): LocalFleet {
  if (fingerprints.length !== servers.length) throw new Error(`describeFleet: ${servers.length} servers but ${fingerprints.length} host key fingerprints`);
  const caCertPath = FLEET_PATHS.lbCaCert;
  return {
    version: 1,
    domain: FLEET_DOMAIN,
    caCertPath,
    loadBalancer: { address: LB_ADDRESS, httpsPort: HTTPS_PORT, httpPort: HTTP_PORT, healthPath: HEALTH_PATH, healthIntervalMs: LB_HEALTH_INTERVAL_MS },
    servers: servers.map((s, i) => ({
      name: s.name, netns: s.netns, address: s.address, sshPort: SSH_PORT, user: s.user, keyPath: FLEET_PATHS.clientKey,
      domain: FLEET_DOMAIN, caCertPath, hostKeyFingerprint: fingerprints[i],
    })),
    store: { ...localStore(), credentialsFile: FLEET_PATHS.storeJson },
    registryProxy: `http://${FLEET_HOST_ADDRESS}:${PROXY_PORT}/`,
  };
}

/** fleet.json's text (pure). */
export function renderFleetJson(fleet: LocalFleet): string {
  return JSON.stringify(fleet, null, 2) + '\n';
}

/** Write fleet.json whole (a reader never sees half of it). */
export function writeFleetJson(fleet: LocalFleet, file = FLEET_JSON): void {
  writeFileAtomic(file, renderFleetJson(fleet));
}

/** Remove fleet.json (first thing `down` does, so nothing picks a dying fleet). */
export function removeFleetJson(file = FLEET_JSON): void {
  rmSync(file, { force: true });
}

/** The local fleet is not up (or a server of it is dead); the message says how to start it. */
export class LocalFleetNotUpError extends Error {
  constructor(reason: string) {
    super(`the local fleet is not up: run \`sudo npx portside local up --servers N\` (${reason})`);
    this.name = 'LocalFleetNotUpError';
  }
}

/**
 * The running local fleet, from fleet.json. Throws LocalFleetNotUpError when it was never brought up, was
 * taken down, or a server's sshd is dead. Cheap: no network, no child process.
 */
export function readLocalFleet(file = FLEET_JSON): LocalFleet {
  if (!existsSync(file)) throw new LocalFleetNotUpError(`${file} does not exist`);
  const fleet = JSON.parse(readFileSync(file, 'utf8')) as LocalFleet;
  for (const s of fleet.servers) {
    if (!existsSync(`/run/netns/${s.netns}`)) throw new LocalFleetNotUpError(`network namespace "${s.netns}" of server ${s.name} does not exist`);
    if (!isAlive(readPid(fleetServerSpec(Number(s.name.slice(1))).sshdPid))) throw new LocalFleetNotUpError(`the sshd of server ${s.name} (${s.address}) is not running`);
  }
  return fleet;
}
