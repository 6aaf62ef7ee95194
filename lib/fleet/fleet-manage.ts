/**
 * `rollback` and `remove-service` against a fleet: the same rollout as a deploy (rollout.ts: one server
 * at a time or `parallel`, the switched servers put back on a failure, the manifest moved last, a
 * catch-up pass), with each server's step being today's single-server command over SSH.
 */
import { UserError } from '../errors';
import { removeService, rollbackService } from '../deploy/manage-service';
import { isBooting } from './booting';
import { convergeOverSsh, serviceRelease } from './converge-client';
import type { Fleet, FleetServer } from './fleet-target';
import { convergeRequest, onServer, serverLog } from './on-server';
import { ReleaseStore, storeClient } from './release-store';
import { rollOut } from './rollout';
import { RolloutInterrupt } from './rollout-interrupt';
import { FleetManifest, withoutService, withRelease } from './store-layout';

export interface FleetRollbackOutcome {
  readonly name: string;
  /** The release every server runs now, and the one the manifest named before. */
  readonly release: string;
  readonly previous: string;
  readonly servers: readonly string[];
  readonly caughtUp: readonly string[];
}

const storeOf = (fleet: Fleet): ReleaseStore => new ReleaseStore(storeClient(fleet.store), fleet.store.bucket);

/** The manifest's entry for a service, or an error saying the fleet does not run it. */
async function entryOf(store: ReleaseStore, name: string): Promise<{ manifest: FleetManifest; entry: FleetManifest['services'][string] }> {
  const { manifest } = await store.readManifest();
  const entry = manifest.services[name];
  if (!entry) throw new UserError(`the fleet's manifest has no service "${name}"`, `It runs: ${Object.keys(manifest.services).join(', ') || 'nothing yet'}. Deploy it first: portside deploy-service ${name} --target local --fleet`);
  return { manifest, entry };
}

/**
 * Every server back to `to` (default: the release the first server would go back to, the newest other
 * one it keeps). The release must be in the store, so servers that boot later can converge to it.
 */
export async function rollbackFleet(fleet: Fleet, name: string, o: { to?: string; parallel?: number; dryRun?: boolean; log: (line: string) => void }): Promise<FleetRollbackOutcome> {
  const store = storeOf(fleet);
  const { entry } = await entryOf(store, name);
  const first = fleet.servers[0];
  if (!first) throw new UserError('the fleet has no running server');
  const to = o.to ?? (await onServer(first, (ssh) => rollbackService(ssh, name, () => undefined, { dryRun: true }))).release;
  const target = await store.findDescriptor(name, to);
  if (!target) throw new UserError(`release ${to} of "${name}" is not in the fleet's store`, 'A fleet rolls back only to releases deployed to the fleet (a server booting later must find it there); give --to one of those.');
  if (o.dryRun) return { name, release: to, previous: entry.releaseId, servers: [], caughtUp: [] };
  const r = await rollOut<FleetServer, { previous: string | null }>(fleet.servers, o.parallel ?? 1, {
    label: (s) => s.label,
    deploy: (s) => onServer(s, async (ssh) => {
      if ((await serviceRelease(ssh, name)) === to) return { previous: null };
      return { previous: (await rollbackService(ssh, name, serverLog(o.log, s), { to })).previous };
    }),
    restore: (s, done) => onServer(s, async (ssh) => {
      if (done.previous) await rollbackService(ssh, name, serverLog(o.log, s), { to: done.previous });
    }),
    writeManifest: async () => {
      const latest = (await store.readManifest()).manifest;
      await store.writeManifest(withRelease(latest, name, { port: entry.port, release: target.release, releaseId: to }));
    },
    interrupt: new RolloutInterrupt(o.log),
    // Not for remove-service: a converge installs what the manifest names and removes nothing.
    isBooting: (s) => onServer(s, isBooting).catch(() => false),
    discover: () => fleet.discover(),
    isOnRelease: (s) => onServer(s, async (ssh) => (await serviceRelease(ssh, name)) === to),
    catchUp: (s) => onServer(s, (ssh) => convergeOverSsh(ssh, convergeRequest(fleet), serverLog(o.log, s))),
    log: o.log,
  });
  return { name, release: to, previous: entry.releaseId, servers: r.switched.map((s) => s.label), caughtUp: r.caughtUp.map((s) => s.label) };
}

/**
 * The service off every server, then out of the manifest. A failure on a server puts the service back
 * on the servers it had left (converge from the store: the manifest still names it).
 */
export async function removeFromFleet(fleet: Fleet, name: string, o: { purge: boolean; parallel?: number; log: (line: string) => void }): Promise<{ servers: readonly string[] }> {
  const store = storeOf(fleet);
  await entryOf(store, name);
  const r = await rollOut<FleetServer, { removed: boolean }>(fleet.servers, o.parallel ?? 1, {
    label: (s) => s.label,
    deploy: (s) => onServer(s, async (ssh) => {
      if ((await serviceRelease(ssh, name)) === null) return { removed: false };
      await removeService(ssh, name, o.purge, serverLog(o.log, s));
      return { removed: true };
    }),
    restore: (s, done) => onServer(s, async (ssh) => {
      if (done.removed) await convergeOverSsh(ssh, convergeRequest(fleet), serverLog(o.log, s));
    }),
    writeManifest: async () => store.writeManifest(withoutService((await store.readManifest()).manifest, name)),
    interrupt: new RolloutInterrupt(o.log),
    discover: () => fleet.discover(),
    isOnRelease: (s) => onServer(s, async (ssh) => (await serviceRelease(ssh, name)) === null),
    catchUp: (s) => onServer(s, (ssh) => removeService(ssh, name, o.purge, serverLog(o.log, s))),
    log: o.log,
  });
  return { servers: r.switched.map((s) => s.label) };
}
