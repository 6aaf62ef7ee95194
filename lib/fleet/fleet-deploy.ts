/**
 * `deploy-service` against a fleet. The release is built once and uploaded to the store once, named by
 * its sha256 (with its descriptor; the env file to SSM, never to the store). Then the servers are rolled
 * (rollout.ts) through today's single-server deploy over SSH: each server's agent probes, switches and
 * verifies exactly as on one server, receiving only the files it lacks. The store's copy is for servers
 * that have no CLI to talk to: one booting later converges from it, and the catch-up pass runs that
 * same converge. The manifest moves when every server has switched.
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import { UserError } from '../errors';
import { releaseFiles } from '../deploy/file-list';
import { BuildResult, checkDeployInput, DeployOutcome, DeployServiceOptions, deployService, newReleaseId, startBuild, who } from '../deploy/deploy-service';
import { parseRegistry } from '../registry';
import { removeService, rollbackService } from '../deploy/manage-service';
import type { ReleaseSpec } from '../deploy/service-folder';
import { nextFreePort, servicePortProblem } from '../ports';
import { convergeOverSsh, serviceRelease } from './converge-client';
import type { Fleet, FleetServer } from './fleet-target';
import { convergeRequest, onServer, serverLog } from './on-server';
import { agentBundle, callAgent } from '../deploy/agent-client';
import { isBooting } from './booting';
import { archiveMtime, buildArchive, buildReleaseArchive, ReleaseArchive } from './release-archive';
import { ReleaseStore, storeClient } from './release-store';
import { rollOut, RolloutSteps } from './rollout';
import { RolloutInterrupt } from './rollout-interrupt';
import { checkServiceEnv, putServiceEnv } from './secrets';
import { FleetManifest, ReleaseDescriptor, withRelease } from './store-layout';

export interface FleetDeployOptions extends Omit<DeployServiceOptions, 'address' | 'releaseId' | 'dryRun'> {
  /** Servers deployed to at once. @default 1 */
  readonly parallel?: number;
}

export interface FleetDeployOutcome {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** The archive's sha256 (its name in the store) and the release id every server runs it under. */
  readonly release: string;
  readonly releaseId: string;
  /** The store lacked the archive and it was uploaded (else the same bytes were there already). */
  readonly uploaded: boolean;
  readonly servers: ReadonlyArray<{ readonly label: string; readonly outcome: DeployOutcome }>;
  readonly caughtUp: readonly string[];
  readonly totalMs: number;
}

/** The release as built, archived and stored, with the port and id every server gets. */
interface Prepared {
  readonly store: ReleaseStore;
  readonly archive: ReleaseArchive;
  readonly releaseId: string;
  readonly port: number;
  readonly built: BuildResult;
  readonly uploaded: boolean;
  readonly env: string | null;
  /** The agent version in the store, for servers that boot with none. */
  readonly agent: string;
}

/** Deploy a service folder to every server of the fleet; see the module comment. */
export async function deployToFleet(fleet: Fleet, o: FleetDeployOptions): Promise<FleetDeployOutcome> {
  const t0 = Date.now();
  const { spec, env } = checkDeployInput(o);
  // Before the build and any upload: an env file Parameter Store would refuse stops the deploy here.
  if (env !== null && fleet.secrets) checkServiceEnv(o.name, env);
  const p = await prepare(fleet, o, spec, env);
  try {
    const outcomes = new Map<string, DeployOutcome>();
    const r = await rollOut(fleet.servers, o.parallel ?? 1, serverSteps(fleet, o, p, outcomes));
    const servers = r.switched.map((s) => ({ label: s.label, outcome: outcomes.get(s.label)! }));
    return {
      name: o.name, port: p.port, url: servers[0]?.outcome.url ?? '', release: p.archive.sha256, releaseId: p.releaseId, uploaded: p.uploaded,
      servers, caughtUp: r.caughtUp.map((s) => s.label), totalMs: Date.now() - t0,
    };
  } finally {
    p.archive.remove();
  }
}

/** Build once, archive once, upload once (unless the store has those bytes), env file to SSM. */
async function prepare(fleet: Fleet, o: FleetDeployOptions, spec: ReleaseSpec, env: string | null): Promise<Prepared> {
  const built = await (o.building ?? startBuild(spec, o.log, o.force, undefined, o.hashes));
  const files = await releaseFiles(spec.sources, o.hashes);
  const archive = await buildReleaseArchive(files);
  try {
    const store = new ReleaseStore(storeClient(fleet.store), fleet.store.bucket);
    const { manifest } = await store.readManifest();
    const current = manifest.services[o.name];
    // The same bytes as the fleet runs: the same release id, so each server finds nothing changed.
    const releaseId = current?.release === archive.sha256 ? current.releaseId : newReleaseId();
    const port = fleetPort(manifest, o, o.port === undefined && !current ? await serverPorts(fleet) : []);
    const descriptor: ReleaseDescriptor = {
      version: 1, service: o.name, release: archive.sha256, releaseId, files: files.map(({ p, h, s, m }) => ({ p, h, s, m })),
      start: spec.start, healthPath: o.healthPath ?? spec.healthPath ?? '/',
    };
    const uploaded = await store.putRelease(archive, descriptor);
    const agent = await storeAgent(store);
    o.log(`release ${releaseId}: ${files.length} files, archive ${archive.sha256.slice(0, 12)}… ${uploaded ? `uploaded to the store (${archive.size} bytes)` : 'already in the store'}`);
    if (env !== null && fleet.secrets) {
      await putServiceEnv(new SSMClient({ region: fleet.secrets.region }), fleet.secrets.stackName, o.name, env);
      o.log(`env file: stored in SSM as a SecureString (contents not shown)`);
    }
    return { store, archive, releaseId, port, built, uploaded, env, agent };
  } catch (e) {
    archive.remove();
    throw e;
  }
}

/** Put this CLI's agent bundle in the store (once per version): a server booting later converges with it. */
export async function storeAgent(store: ReleaseStore): Promise<string> {
  const { version, files } = agentBundle();
  const archive = await buildArchive(files.map((f) => ({ ...f, mtime: archiveMtime(version) })));
  try {
    await store.putAgent(version, archive);
    return version;
  } finally {
    archive.remove();
  }
}

/** The service's port on every server: asked for, else the manifest's (or a server's), else the next one free on all. */
export function fleetPort(m: FleetManifest, o: Pick<FleetDeployOptions, 'name' | 'port'>, onServers: ReadonlyArray<Readonly<Record<string, number>>> = []): number {
  // The servers' registries count too: a service put on them some other way holds its port there.
  const ports: Record<string, number> = Object.assign({}, ...onServers, Object.fromEntries(Object.entries(m.services).map(([n, s]) => [n, s.port])));
  const port = o.port ?? ports[o.name] ?? nextFreePort(ports);
  const problem = servicePortProblem(port, ports, o.name);
  if (problem) throw new UserError(`cannot deploy "${o.name}" on port ${port}: ${problem}`);
  return port;
}

/** Each server's registered services and ports (a new service's port must be free on all of them). */
function serverPorts(fleet: Fleet): Promise<Array<Record<string, number>>> {
  return Promise.all(fleet.servers.map((s) => onServer(s, async (ssh) => {
    const r = await callAgent(ssh, { command: 'status', header: { readOnly: true, who: who() } });
    return { ...parseRegistry(JSON.stringify(r.registry)).services };
  })));
}

/** What each server gets: today's deploy over SSH; on failure, its rollback; the catch-up, converge. */
function serverSteps(fleet: Fleet, o: FleetDeployOptions, p: Prepared, outcomes: Map<string, DeployOutcome>): RolloutSteps<FleetServer, DeployOutcome> {
  const logFor = (s: FleetServer) => serverLog(o.log, s);
  const single = (o.parallel ?? 1) === 1;
  return {
    label: (s) => s.label,
    deploy: (s) => onServer(s, async (ssh) => {
      const outcome = await deployService(ssh, {
        ...o, port: p.port, releaseId: p.releaseId, building: Promise.resolve(p.built), address: fleet.address, log: logFor(s), status: single ? o.status : undefined,
      });
      outcomes.set(s.label, outcome);
      return outcome;
    }),
    restore: (s, done) => onServer(s, async (ssh) => {
      if (done.unchanged) return;
      if (done.previous) await rollbackService(ssh, o.name, logFor(s), { to: done.previous });
      else await removeService(ssh, o.name, false, logFor(s));
    }),
    writeManifest: async () => {
      // Read again just before writing: another service's rollout may have moved it meanwhile.
      const { manifest } = await p.store.readManifest();
      await p.store.writeManifest({ ...withRelease(manifest, o.name, { port: p.port, release: p.archive.sha256, releaseId: p.releaseId }), agent: p.agent });
    },
    interrupt: new RolloutInterrupt(o.log),
    // A server that cannot even be reached is not booting: its deploy says what is wrong, as before.
    isBooting: (s) => onServer(s, isBooting).catch(() => false),
    discover: () => fleet.discover(),
    isOnRelease: (s) => onServer(s, async (ssh) => (await serviceRelease(ssh, o.name)) === p.releaseId),
    catchUp: (s) => onServer(s, (ssh) => convergeOverSsh(ssh, convergeRequest(fleet, p.env !== null ? { [o.name]: p.env } : undefined), logFor(s))),
    log: o.log,
  };
}
