/**
 * `deploy-files` against a fleet: the site's folder archived once (sha256) and stored once with its
 * descriptor, then each server through today's deploy-files over SSH (one release id everywhere), the
 * manifest's `static` moved last. A failure puts the switched servers back by `converge` (the manifest
 * still names the site's previous release, whose folder each server still has: a link switch).
 */
import { checkSiteFolder, deployFiles, DeployFilesOutcome } from '../deploy/deploy-files';
import { newReleaseId } from '../deploy/deploy-service';
import { buildManifest, listFiles } from '../deploy/file-list';
import { UserError } from '../errors';
import { callAgent } from '../deploy/agent-client';
import { who } from '../deploy/deploy-service';
import { isBooting } from './booting';
import { convergeOverSsh } from './converge-client';
import { storeAgent } from './fleet-deploy';
import type { Fleet, FleetServer } from './fleet-target';
import { convergeRequest, onServer, serverLog } from './on-server';
import { archiveMtime, buildArchive } from './release-archive';
import { ReleaseStore, storeClient } from './release-store';
import { rollOut, RolloutSteps } from './rollout';
import { RolloutInterrupt } from './rollout-interrupt';

export interface FleetFilesOutcome {
  readonly url: string;
  readonly release: string;
  readonly releaseId: string;
  readonly files: number;
  readonly uploaded: boolean;
  readonly servers: readonly string[];
  readonly caughtUp: readonly string[];
}

/** Publish `dir` as the site on every server of the fleet; see the module comment. */
export async function deployFilesToFleet(fleet: Fleet, dir: string, o: { parallel?: number; log: (line: string) => void }): Promise<FleetFilesOutcome> {
  const folder = checkSiteFolder(dir);
  const files = await buildManifest(listFiles(folder));
  const archive = await buildArchive(files.map((f) => ({ path: f.p, source: f.source, size: f.s, mode: 0o644, mtime: archiveMtime(f.h) })));
  try {
    const store = new ReleaseStore(storeClient(fleet.store), fleet.store.bucket);
    const { manifest } = await store.readManifest();
    const releaseId = (manifest.static?.release === archive.sha256 && manifest.static.releaseId) || newReleaseId();
    const uploaded = await store.putStatic(archive, { version: 1, release: archive.sha256, releaseId, files: files.map(({ p, h, s, m }) => ({ p, h, s, m })) });
    const agent = await storeAgent(store);
    o.log(`site release ${releaseId}: ${files.length} files, archive ${archive.sha256.slice(0, 12)}… ${uploaded ? 'uploaded to the store' : 'already in the store'}`);
    const outcomes = new Map<string, DeployFilesOutcome>();
    const r = await rollOut(fleet.servers, o.parallel ?? 1, siteSteps(fleet, store, { folder, releaseId, sha256: archive.sha256, agent, hadSite: !!manifest.static?.releaseId }, outcomes, o.log));
    const first = outcomes.get(r.switched[0]?.label ?? '');
    return { url: first?.url ?? '', release: archive.sha256, releaseId, files: files.length, uploaded, servers: r.switched.map((s) => s.label), caughtUp: r.caughtUp.map((s) => s.label) };
  } finally {
    archive.remove();
  }
}

/** The site's release as every server gets it. */
interface SiteRelease {
  readonly folder: string;
  readonly releaseId: string;
  readonly sha256: string;
  readonly agent: string;
  /** The manifest named a site release before this one (a failure can go back to it). */
  readonly hadSite: boolean;
}

/** What each server gets: today's deploy-files over SSH; on failure, converge back to the manifest's site. */
function siteSteps(fleet: Fleet, store: ReleaseStore, rel: SiteRelease, outcomes: Map<string, DeployFilesOutcome>, log: (line: string) => void): RolloutSteps<FleetServer, DeployFilesOutcome> {
  return {
    label: (s) => s.label,
    deploy: (s) => onServer(s, async (ssh) => {
      const done = await deployFiles(ssh, rel.folder, fleet.address, serverLog(log, s), { releaseId: rel.releaseId });
      outcomes.set(s.label, done);
      return done;
    }),
    restore: (s, done) => onServer(s, async (ssh) => {
      if (done.unchanged) return;
      if (!rel.hadSite) throw new UserError('the fleet had no site release before this one to go back to', 'Publish the site again with deploy-files.');
      await convergeOverSsh(ssh, convergeRequest(fleet), serverLog(log, s));
    }),
    writeManifest: async () => {
      const latest = (await store.readManifest()).manifest;
      await store.writeManifest({ ...latest, updatedAt: new Date().toISOString(), static: { release: rel.sha256, releaseId: rel.releaseId }, agent: rel.agent });
    },
    interrupt: new RolloutInterrupt(log),
    isBooting: (s) => onServer(s, isBooting).catch(() => false),
    discover: () => fleet.discover(),
    isOnRelease: (s) => onServer(s, async (ssh) => (await callAgent(ssh, { command: 'status', header: { readOnly: true, who: who() } })).site.release === rel.releaseId),
    catchUp: (s) => onServer(s, (ssh) => convergeOverSsh(ssh, convergeRequest(fleet), serverLog(log, s))),
    log,
  };
}
