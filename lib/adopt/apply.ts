import { UserError } from '../errors';
import { newReleaseId } from '../protocol/release-id';
import { renderRegistry } from '../registry/registry';
import { DEPLOYS_FILE, NODE_LINK, onServer, PM2_FILE, RELEASE_MANIFEST, RELEASES_SUBDIR, REGISTRY_FILE } from '../remote/layout';
import { ADDED_TO_FOLDER, ADOPTED_CADDYFILE, adoptedApp, adoptedCaddyDir, adoptedImport, adoptedRegistry, adoptedWww, caddyfileWith, handoverName, scriptOf, Steps } from './adopted';
export type { Say, Steps } from './adopted';
import type { AdoptPlan, PlannedService, ProblemKind } from './plan-types';
import { ADOPTED_FILE, AdoptedRecord, BeforeRecord, recordBefore, refuseIfRecorded } from './record';
import { routeToStandIns } from './handover';
import { restoreFromRecord } from './undo';
import { AdoptServer, ServerCommands, settle } from './server-ops';

/** Problems that leave the plan safe to apply (named in the plan, nothing to decide). */
const APPLICABLE: readonly ProblemKind[] = ['exposed-port', 'folder-without-process', 'unrouted-process'];

export interface ApplyOutcome {
  readonly releases: Readonly<Record<string, string>>;
  readonly staticRelease: string;
}

/** Why this plan cannot be applied as it is, or null. */
export function applyRefusal(plan: AdoptPlan): string | null {
  const blocking = plan.problems.filter((p) => !APPLICABLE.includes(p.kind));
  if (blocking.length) return `the plan has problems to fix first: ${blocking.map((p) => `${p.message} (fix: ${p.fix})`).join('; ')}`;
  const nameless = plan.services.find((s) => !s.folder || !s.process.script || s.process.status !== 'online');
  if (nameless) return `"${nameless.name}" has no folder, no script or is not online: adopt makes its first release from its folder`;
  return null;
}

/** How many steps an adoption has; the last one is its commit (a run that has begun it finishes it). */
export const ADOPT_STEPS = 6;

/** The AdoptServer for a plan: pm2, Node and Caddy by the paths the plan found. */
export function opsFor(cmd: ServerCommands, plan: AdoptPlan): AdoptServer {
  return new AdoptServer(cmd, plan.server.node.path!, plan.server.pm2.bin!, plan.server.caddy.binary ?? 'caddy');
}

/**
 * Bring a hand-built server under Portside (the plan's course variant) with no failed request:
 * record it, make releases from the files already there, then hand each port over — a stand-in of the
 * release on a probe port takes the traffic (Caddy reloaded gracefully), the fork process stops, the
 * cluster process starts on the real port, Caddy goes back to it, the stand-in stops. `steps.step`
 * may refuse a step (its CLI is gone): the server is then put back as the record says.
 */
export async function applyAdoption(ops: AdoptServer, plan: AdoptPlan, who: string, steps: Steps): Promise<ApplyOutcome> {
  const say = steps.say;
  // Before the plan's problems: a half-adopted server has some (its Caddyfile is not what Caddy runs).
  await refuseIfRecorded(ops, plan.server.home);
  const refusal = applyRefusal(plan);
  if (refusal) throw new UserError(`not adopting: ${refusal}; nothing was changed`, 'Fix them (portside adopt --dry-run lists each with its fix), then run adopt again.');
  const home = plan.server.home;
  steps.step(1, `recording the server as it is in ~/${ADOPTED_FILE.replace(/[^/]+$/, '')}before (Caddyfile, pm2 list and dump, folders, the plan)`);
  const record = await recordBefore(ops, plan, who);
  try {
    return await applyRecorded(ops, plan, record, who, steps);
  } catch (e) {
    // Whatever step failed, the server goes back to what the record says (the next adopt then starts afresh).
    say(`adopting failed (${(e as Error).message.split('\n')[0]}): putting the server back as it was`);
    await restoreFromRecord(ops, home, record, say);
    throw new UserError(`adopting failed and the server was put back as it was: ${(e as Error).message}`, (e as UserError).detail ?? 'Fix what the message names, then run adopt again.');
  }
}

/** Steps 2–6 of applyAdoption, once the record is on the server. */
async function applyRecorded(ops: AdoptServer, plan: AdoptPlan, record: BeforeRecord, who: string, steps: Steps): Promise<ApplyOutcome> {
  const home = plan.server.home;
  for (const [name, entries] of Object.entries(record.folders)) {
    const clash = ADDED_TO_FOLDER.find((n) => entries.includes(n));
    if (clash) throw new UserError(`~/services/${name} already has "${clash}", which Portside's release layout uses; nothing but the record was changed`, 'Rename it, run portside adopt --undo to drop the record, then adopt again.');
  }
  // Portside's agent is on the server already: this run is part of its bundle (the CLI sent it).
  steps.step(2, 'the Node link for Portside\'s agent (~/.portside/node)');
  await ops.sh('set -e; mkdir -p "${2%/*}"; ln -sfn -- "$1" "$2.tmp"; mv -Tf -- "$2.tmp" "$2"', [plan.server.node.path!, onServer(home, NODE_LINK)]);
  steps.step(3, 'making the first releases from the files on the server (hard links; the folders stay as they are)');
  const id = newReleaseId();
  for (const s of plan.services) await makeServiceRelease(ops, s, id, who);
  await makeStaticRelease(ops, plan, id);
  // Caddy restarted (a reboot) reads the import as its own user, to whom a home is often closed (Ubuntu's 0750):
  // Portside's Caddyfile lives in the folder the plan found Caddy's user can read; ~/.portside/caddy links there
  // (test/e2e/adopt-reboot, adopt-no-static). umask 022: whatever the user's umask, Caddy's user must pass through.
  await ops.sh('set -e; umask 022; mkdir -p -- "$1" "${2%/*}"; ln -sfn -- "$1" "$2"', [adoptedCaddyDir(plan), onServer(home, ADOPTED_CADDYFILE).replace(/\/[^/]+$/, '')]);
  const registry = adoptedRegistry(plan);
  const standIns = await ops.freePorts(plan.services.length);
  const ports = Object.fromEntries(plan.services.map((s, i) => [s.name, standIns[i]]));
  steps.step(4, `stand-ins on probe ports (${plan.services.map((s) => `${s.name} ${ports[s.name]}`).join(', ')}); Caddy → them (Portside's Caddyfile, graceful reload)`);
  await routeToStandIns(ops, home, plan.services, registry, ports);
  steps.step(5, 'handing each port over: the fork process stops, pm2 starts the release in cluster mode on the same port');
  for (const s of plan.services) {
    await ops.pm2('delete', s.name);
    await ops.pm2StartApp(`${s.folder}/${PM2_FILE}`, adoptedApp(home, s, s.port));
    await ops.waitForHttp(s.port);
  }
  const caddyfile = onServer(home, ADOPTED_CADDYFILE);
  steps.step(6, `Caddy → the services on their ports; stand-ins stopped; registry written; ${plan.basis.caddyfile} now imports Portside's Caddyfile; pm2 save`);
  await ops.writeFile(caddyfile, caddyfileWith(registry));
  await ops.reloadCaddy(caddyfile);
  await settle();
  for (const s of plan.services) await ops.pm2('delete', handoverName(s.name));
  await ops.writeFile(onServer(home, REGISTRY_FILE), renderRegistry(registry));
  // Caddy restarted (or the server rebooted) starts from this file: it must load Portside's.
  await ops.writeInPlace(plan.basis.caddyfile, `# Portside manages this server's Caddy configuration (portside adopt). Undo: portside adopt --undo.\n${adoptedImport(plan)}\n`);
  await ops.sh('rm -f -- "$1.handover"', [caddyfile]);
  await ops.pm2('save', '--force');
  const releases = Object.fromEntries(plan.services.map((s) => [s.name, id]));
  const adopted: AdoptedRecord = { at: new Date().toISOString(), releases, staticRelease: id };
  await ops.writeFile(onServer(home, ADOPTED_FILE), JSON.stringify(adopted, null, 2) + '\n');
  return { releases, staticRelease: id };
}

/** releases/<id> made from the folder by hard links (what adopt adds left out), its manifest, `current`, deploys.json. */
async function makeServiceRelease(ops: AdoptServer, s: PlannedService, id: string, who: string): Promise<void> {
  const dir = `${s.folder}/${RELEASES_SUBDIR}/${id}`;
  const manifest = { id, files: [], start: { script: scriptOf(s) }, port: s.port, by: who, at: new Date().toISOString() };
  await ops.sh('set -e; cd -- "$1"; mkdir -p -- "$2"; for f in * .[!.]* ..?*; do case "$f" in "*"|".[!.]*"|"..?*"|releases|current|deploys.json|pm2.json) continue;; esac; [ -e "$f" ] || [ -L "$f" ] || continue; cp -al -- "$f" "$2/"; done; cat > "$2/$3"',
    [s.folder!, dir, RELEASE_MANIFEST], JSON.stringify(manifest));
  await linkCurrent(ops, s.folder!, id);
  await ops.writeFile(`${s.folder}/${DEPLOYS_FILE}`, JSON.stringify([{ id, at: manifest.at, by: who, port: s.port }], null, 2) + '\n');

}

/** The static site's first release, from the files of the root Caddy serves (copied by hard links). */
async function makeStaticRelease(ops: AdoptServer, plan: AdoptPlan, id: string): Promise<void> {
  const www = adoptedWww(plan);
  const root = plan.staticSite?.root ?? '';
  await ops.sh('set -e; umask 022; mkdir -p -- "$2/releases/$3"; [ -n "$1" ] || exit 0; cd -- "$1"; for f in * .[!.]* ..?*; do case "$f" in "*"|".[!.]*"|"..?*"|"$4") continue;; esac; [ -e "$f" ] || [ -L "$f" ] || continue; cp -al -- "$f" "$2/releases/$3/"; done',
    [root, www, id, www.replace(/^.*\//, '')]);
  await linkCurrent(ops, www, id);
}

async function linkCurrent(ops: AdoptServer, base: string, id: string): Promise<void> {
  await ops.sh('set -e; ln -sfn -- "releases/$2" "$1/current.tmp"; mv -Tf -- "$1/current.tmp" "$1/current"', [base, id]);
}
