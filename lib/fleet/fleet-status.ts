/**
 * `services` against a fleet: each server's services (release, process, health) and whether the server
 * has converged (its health marker, what the load balancer checks), joined with the store's manifest;
 * then, in words, every way the fleet disagrees. Gathering is over SSH; the comparison is pure.
 */
import { dirname } from 'node:path';
import { listServices, ServiceRow } from '../deploy/manage-service';
import { parseRegistry } from '../registry';
import { CONVERGED_MARKER_FILE, REGISTRY_FILE } from '../remote/layout';
import { openSsh } from '../ssh';
import type { Fleet } from './fleet-target';
import { ReleaseStore, storeClient } from './release-store';
import type { FleetManifest } from './store-layout';

/** One server as `services` shows it; `error` when it could not be read. */
export interface ServerView {
  readonly server: string;
  /** Its health marker is there: the load balancer sends it traffic. */
  readonly converged: boolean | null;
  readonly services: readonly ServiceRow[];
  readonly error?: string;
}

export interface FleetView {
  readonly manifest: FleetManifest | null;
  readonly servers: readonly ServerView[];
  /** One line per disagreement; empty when every server runs what the manifest says. */
  readonly disagreements: readonly string[];
}

/** Read every server (in parallel) and the manifest, and compare them. */
export async function fleetView(fleet: Fleet, log: (line: string) => void): Promise<FleetView> {
  const store = new ReleaseStore(storeClient(fleet.store), fleet.store.bucket);
  const [m, servers] = await Promise.all([store.readManifest(), Promise.all(fleet.servers.map((s) => readServer(s.label, s.target, fleet.address, log)))]);
  const manifest = m.exists ? m.manifest : null;
  return { manifest, servers, disagreements: disagreements(manifest, servers) };
}

async function readServer(server: string, target: Parameters<typeof openSsh>[0], address: string, log: (line: string) => void): Promise<ServerView> {
  try {
    const ssh = await openSsh(target);
    try {
      const services = await listServices(ssh, address, log);
      // listServices has just made sure the registry is there (a lost one is rebuilt): its paths say where Caddy's folder is.
      const registry = parseRegistry((await ssh.run(['cat', REGISTRY_FILE])).stdout);
      const converged = (await ssh.exec(['test', '-f', `${dirname(registry.paths.caddyfile)}/${CONVERGED_MARKER_FILE}`])).code === 0;
      return { server, converged, services };
    } finally {
      await ssh.close().catch(() => {});
    }
  } catch (e) {
    return { server, converged: null, services: [], error: (e as Error).message };
  }
}

/**
 * Every way the fleet disagrees, pure: a server not read, not converged, missing a service of the
 * manifest, on another release than the manifest's, or running a service the manifest does not name.
 */
export function disagreements(manifest: FleetManifest | null, servers: readonly ServerView[]): string[] {
  const out: string[] = [];
  const wanted = manifest?.services ?? {};
  for (const s of servers) {
    if (s.error) {
      out.push(`${s.server}: could not be read (${s.error})`);
      continue;
    }
    if (s.converged === false) out.push(`${s.server}: not converged (the load balancer sends it nothing)`);
    const rows = new Map(s.services.map((r) => [r.name, r]));
    for (const [name, entry] of Object.entries(wanted)) {
      const row = rows.get(name);
      if (!row?.release) out.push(`${s.server}: ${name} is missing (the manifest has release ${entry.releaseId})`);
      else if (row.release !== entry.releaseId) out.push(`${s.server}: ${name} runs ${row.release}, the manifest says ${entry.releaseId}`);
    }
    for (const row of s.services) if (manifest && !wanted[row.name] && row.release) out.push(`${s.server}: ${row.name} runs here but is not in the manifest`);
  }
  if (!manifest) {
    const releases = new Set(servers.flatMap((s) => s.services.map((r) => `${r.name}@${r.release}`)));
    if (releases.size && servers.some((s) => s.services.length !== servers[0].services.length)) out.push('the store has no manifest and the servers run different services');
  }
  return out;
}
