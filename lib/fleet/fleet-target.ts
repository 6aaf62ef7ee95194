/**
 * Where a fleet is, as the CLI needs it: its servers (each an SSH target), its release store, the
 * address users reach it at, and where env files go. `--target local` with a local fleet up
 * (`portside local up --servers N` writes fleet.json) means the whole fleet.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors';
import type { SshTarget } from '../ssh/connection';
import { portsideHome } from '../ssh/paths';
import type { StoreLocation } from './release-store';

/** One server of a fleet. */
export interface FleetServer {
  /** Its name in messages, e.g. `s1 (10.77.1.11)`; unique in the fleet. */
  readonly label: string;
  readonly target: SshTarget;
}

export interface Fleet {
  readonly kind: 'local' | 'aws';
  readonly servers: readonly FleetServer[];
  readonly store: StoreLocation;
  /** The load balancer's address (URLs when there is no domain). */
  readonly address: string;
  /**
   * Where env files are kept for servers that converge without the CLI: SSM under this stack's prefix,
   * or null (the local fleet: env files go to each server over SSH only, never to the store).
   */
  readonly secrets: { readonly stackName: string; readonly region?: string } | null;
  /** The fleet's servers as they are now (the rollout's catch-up pass). */
  discover(): Promise<readonly FleetServer[]>;
}

/** fleet.json's path (the local fleet's description; lib/targets/local owns it). */
function localFleetFile(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../targets/local/fleet-constants') as typeof import('../targets/local/fleet-constants')).FLEET_JSON;
}

/** Whether `--target local` means a fleet: `local up --servers N` has written fleet.json. */
export function localFleetIsUp(): boolean {
  return existsSync(localFleetFile());
}

/** The local fleet from fleet.json (throws, saying how to start it, when it is not up). */
export async function localFleet(env: NodeJS.ProcessEnv, log?: (line: string) => void): Promise<Fleet> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readLocalFleet } = require('../targets/local/fleet-description') as typeof import('../targets/local/fleet-description');
  const read = async (): Promise<readonly FleetServer[]> => {
    const servers: FleetServer[] = [];
    // One after another: each may rewrite the same known-hosts file (a re-made fleet has new host keys).
    for (const s of readLocalFleet().servers) servers.push(await localServerTarget(s, env, log));
    return servers;
  };
  const fleet = readLocalFleet();
  const { endpoint, bucket, region, accessKeyId, secretAccessKey } = fleet.store;
  return {
    kind: 'local', servers: await read(), address: fleet.loadBalancer.address, secrets: null, discover: read,
    store: { bucket, endpoint, region, credentials: { accessKeyId, secretAccessKey } },
  };
}

interface LocalFleetServerFacts {
  readonly name: string;
  readonly address: string;
  readonly sshPort: number;
  readonly user: string;
  readonly keyPath: string;
  readonly hostKeyFingerprint: string;
}

/** A local fleet server as an SSH target; a pin left by an earlier fleet at that address is replaced. */
async function localServerTarget(s: LocalFleetServerFacts, env: NodeJS.ProcessEnv, log?: (line: string) => void): Promise<FleetServer> {
  // Loaded here, not at the top: they load ssh2, and every command's --help imports this module (it must load no npm package).
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { readPrivateKeyFile } = require('../ssh/key-file') as typeof import('../ssh/key-file');
  const { sameFingerprint } = require('../ssh/fingerprint') as typeof import('../ssh/fingerprint');
  const { forgetHost, readPins } = require('../ssh/known-hosts') as typeof import('../ssh/known-hosts');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const knownHostsPath = join(portsideHome(env), 'known_hosts.fleet');
  const pins = await readPins(knownHostsPath, s.address, s.sshPort);
  // The fleet's own state is the authority on its host keys: `local up --servers` again makes new ones.
  if (pins.length > 0 && !pins.some((p) => sameFingerprint(p.fingerprint, s.hostKeyFingerprint))) await forgetHost(knownHostsPath, s.address, s.sshPort);
  const label = `${s.name} (${s.address})`;
  return {
    label,
    target: {
      host: s.address, port: s.sshPort, user: s.user, privateKey: await readPrivateKeyFile(s.keyPath, 'the local fleet key', log),
      knownHostsPath, expectedFingerprints: [s.hostKeyFingerprint], expectedFingerprintsSource: 'the local fleet\'s state (fleet.json)', label: `fleet server ${label}`,
    },
  };
}

/**
 * The fleet a command's target names, or null for a single server. `--fleet` asks for the fleet: the local
 * one with --target local (an error when it is not up), else the AWS one (instances tagged
 * portside:fleet=<stack>). Without it, `--target local` (or PORTSIDE_TARGET=local) means the local
 * fleet only while the single stand-in is not up too: with both up it keeps meaning the single server,
 * so nothing aimed at that server lands on the fleet. An AWS fleet is looked up only with --fleet (no
 * extra EC2 call for a single server).
 */
export async function targetFleet(values: { target?: string; host?: string; fleet?: boolean; key?: string; user?: string }, env: NodeJS.ProcessEnv, log?: (line: string) => void): Promise<Fleet | null> {
  const local = (values.target ?? env.PORTSIDE_TARGET ?? 'aws') === 'local';
  if (values.fleet) {
    if (values.host !== undefined) throw new UsageError('--fleet finds the fleet\'s servers itself: drop --host', 'e.g. portside deploy-service simon --fleet (AWS) or --target local --fleet');
    if (local) return localFleet(env, log);
    // Loaded here: the EC2 and SSM clients cost ~0.5 s that no other path pays.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { awsFleet } = require('./aws-fleet') as typeof import('./aws-fleet');
    return awsFleet({ env, key: values.key, user: values.user, log });
  }
  if (values.host !== undefined || !local || !localFleetIsUp() || singleServerIsUp()) return null;
  return localFleet(env, log);
}

function singleServerIsUp(): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readLocalServer } = require('../targets/local') as typeof import('../targets/local');
  try {
    readLocalServer();
    return true;
  } catch {
    return false;
  }
}
