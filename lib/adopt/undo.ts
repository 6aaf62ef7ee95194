import { UserError } from '../errors';
import { parseRegistry, Registry } from '../registry/registry';
import { ADOPT_DIR, NODE_LINK, onServer, PORTSIDE_DIR, REGISTRY_FILE } from '../remote/layout';
import { ADDED_TO_FOLDER, ADOPTED_CADDYFILE, adoptedRegistry, adoptedWww, handoverName, Say } from './adopted';
import { ADOPTED_FILE, AdoptedRecord, BEFORE_DIR, BeforeRecord, jlistOf, LAUNCH_ENTRIES, readBefore } from './record';
import { routeToStandIns } from './handover';
import { AdoptServer, settle } from './server-ops';

/** One pm2 process as `pm2 jlist` recorded it: what it takes to start it again the same way. */
interface RecordedProcess {
  readonly name: string;
  readonly pm2_env?: { readonly pm_exec_path?: string; readonly pm_cwd?: string; readonly args?: unknown; readonly exec_mode?: string; readonly node_args?: unknown; readonly env?: Record<string, unknown>; readonly PORT?: unknown };
}

export interface UndoOutcome {
  /** Services whose release deployed after adoption stopped running (only with discardDeploys). */
  readonly discarded: readonly string[];
}

/**
 * Put an adopted server back as it was before adoption, with no failed request: stand-ins of the
 * current releases take each port's traffic, the cluster process stops, the original fork process
 * starts again (same name, script, cwd, args), the original Caddyfile goes back byte for byte and
 * Caddy reloads it, the stand-ins stop; then what adopt added is removed and pm2's dump put back.
 * Refuses when releases were deployed since adoption unless `discardDeploys` (the original code runs).
 */
export async function undoAdoption(ops: AdoptServer, home: string, discardDeploys: boolean, say: Say): Promise<UndoOutcome> {
  const before = await readBefore(ops.cmd, home);
  if (!before) throw new UserError(`nothing to undo: ~/${BEFORE_DIR}/record.json is not on the server (it was never adopted, or the undo finished)`, 'Nothing was changed.');
  const adopted = JSON.parse(await ops.sh('cat -- "$1" 2>/dev/null || echo null', [onServer(home, ADOPTED_FILE)])) as AdoptedRecord | null;
  if (!adopted) {
    say('the adoption did not finish (stopped or failed part-way): putting back what it changed');
    await restoreFromRecord(ops, home, before, say);
    return { discarded: [] };
  }
  const registry = parseRegistry(await ops.sh('cat -- "$1"', [onServer(home, REGISTRY_FILE)]));
  const plan = before.plan;
  const changed = await deployedSince(ops, plan.services.map((s) => ({ name: s.name, folder: s.folder! })), adopted);
  const added = Object.keys(registry.services).filter((n) => !plan.services.some((s) => s.name === n));
  if (added.length) throw new UserError(`services were added since adoption (${added.join(', ')}): undo would leave them without a route`, `Remove them first (portside remove-service ${added[0]} …), then undo.`);
  if (changed.length && !discardDeploys) {
    throw new UserError(`releases were deployed since adoption: ${changed.map((c) => `${c.name} runs ${c.now}, adopted as ${c.adopted}`).join('; ')}. Undo restarts the code as it was before adoption (the folders adopt left untouched), so these releases would stop running; nothing was changed`,
      'Pass --discard-deploys to undo anyway (the original code runs again), or keep Portside.');
  }
  await restoreFromRecord(ops, home, before, say, registry);
  return { discarded: changed.map((c) => c.name) };
}

/**
 * Put the server back from its record, from any point of an adoption (finished, or stopped part-way):
 * each service Portside runs in cluster mode is handed back through a stand-in (Caddy → stand-ins, the
 * cluster process drains, the original fork process starts on its port); a service with no process
 * (stopped between the two) is started at once; one that still runs as it was is left alone. Then the
 * Caddyfile's bytes go back and Caddy reloads them, the stand-ins stop, and what adopt added is removed.
 */
export async function restoreFromRecord(ops: AdoptServer, home: string, before: BeforeRecord, say: Say, registry: Registry = adoptedRegistry(before.plan)): Promise<void> {
  const plan = before.plan;
  const now = jlistOf(await ops.pm2('jlist')) as RecordedProcess[];
  const modeOf = (name: string) => now.find((p) => p.name === name)?.pm2_env?.exec_mode;
  const adopted = plan.services.filter((s) => modeOf(s.name) === 'cluster_mode');
  const ports: Record<string, number> = {};
  for (const p of now.filter((x) => x.name.startsWith(handoverName('')))) ports[p.name.slice(handoverName('').length)] = Number(p.pm2_env?.env?.PORT ?? p.pm2_env?.PORT);
  const running = new Set(Object.keys(ports));
  const needed = adopted.filter((s) => !running.has(s.name));
  const free = await ops.freePorts(needed.length);
  needed.forEach((s, i) => { ports[s.name] = free[i]; });
  if (adopted.length) {
    say(`1/4 stand-ins of the current releases on probe ports (${adopted.map((s) => `${s.name} ${ports[s.name]}`).join(', ')}); Caddy → them`);
    await routeToStandIns(ops, home, adopted, registry, ports, running);
  }
  say('2/4 the cluster processes stop (they drain); the original fork processes start again on their ports');
  for (const s of plan.services) {
    const mode = modeOf(s.name);
    if (mode === 'fork_mode') continue;
    if (mode) await ops.pm2('delete', s.name);
    await startRecorded(ops, (before.pm2 as RecordedProcess[]).find((p) => p.name === s.name)!, home);
    await ops.waitForHttp(s.port);
  }
  say(`3/4 ${before.caddyfile} back byte for byte; Caddy reloads it; stand-ins stopped`);
  await ops.writeInPlace(before.caddyfile, await ops.sh('cat -- "$1/Caddyfile"', [onServer(home, BEFORE_DIR)]));
  await ops.reloadCaddy(before.caddyfile);
  await settle();
  for (const p of (jlistOf(await ops.pm2('jlist')) as RecordedProcess[]).filter((x) => x.name.startsWith(handoverName('')))) await ops.pm2('delete', p.name);
  say('4/4 removing what adopt added (releases, current, deploys.json, pm2.json, the static site\'s releases, ~/.portside); pm2\'s dump put back');
  await removeAdded(ops, home, before);
}

/** Remove what adopt added, and put pm2's dump back byte for byte (the record itself goes last). */
async function removeAdded(ops: AdoptServer, home: string, before: BeforeRecord): Promise<void> {
  const plan = before.plan;
  await ops.sh('set -e; if [ -f "$1/dump.pm2" ]; then cp -p -- "$1/dump.pm2" "$2"; fi', [onServer(home, BEFORE_DIR), onServer(home, '.pm2/dump.pm2')]);
  for (const s of plan.services) {
    const names = ADDED_TO_FOLDER.filter((n) => !(before.folders[s.name] ?? []).includes(n));
    await ops.sh('set -e; d=$1; shift; for n in "$@"; do rm -rf -- "$d/$n"; done', [s.folder!, ...names]);
  }
  await ops.sh('rm -rf -- "$1"', [adoptedWww(plan)]);
  const caddyDir = onServer(home, ADOPTED_CADDYFILE).replace(/\/[^/]+$/, '');
  // What this run's launch made stays (the bundle it runs from, whose preload a stand-in may still need, and
  // the lock it holds): the run removes them last, with ~/.portside, when nothing else is there (on-server/main.ts).
  if (!before.portsideExisted) await ops.sh('set -e; cd -- "$1"; shift; for f in * .[!.]* ..?*; do case " $* " in *" $f "*) continue;; esac; [ -e "$f" ] || [ -L "$f" ] || continue; rm -rf -- "$f"; done', [onServer(home, PORTSIDE_DIR), ...LAUNCH_ENTRIES]);
  else await ops.sh('rm -rf -- "$1" "$2" "$3" "$4"', [onServer(home, REGISTRY_FILE), caddyDir, onServer(home, NODE_LINK), onServer(home, ADOPT_DIR)]);
}

/** Services whose `current` is no longer the release adoption made. */
async function deployedSince(ops: AdoptServer, services: ReadonlyArray<{ name: string; folder: string }>, adopted: AdoptedRecord): Promise<Array<{ name: string; now: string; adopted: string }>> {
  const out = [];
  for (const s of services) {
    const now = (await ops.sh('readlink -- "$1/current" || true', [s.folder])).trim().replace(/^.*\//, '');
    if (now !== adopted.releases[s.name]) out.push({ name: s.name, now: now || '(none)', adopted: adopted.releases[s.name] });
  }
  return out;
}

/**
 * Start a process again as pm2 recorded it: same name, script, cwd, arguments, mode (fork), and the
 * environment it was started with. pm2 gives a process the environment of the `pm2 start` that made it
 * (the student's shell: nvm's PATH, NVM_DIR, their own variables) and records it in pm2_env.env: pm2
 * is run again with exactly that, not with this run's (an SSH session's, which has none of it).
 */
async function startRecorded(ops: AdoptServer, p: RecordedProcess, home: string): Promise<void> {
  const env = p.pm2_env ?? {};
  const args = Array.isArray(env.args) ? env.args.map(String) : typeof env.args === 'string' ? env.args.split(/\s+/).filter(Boolean) : [];
  const nodeArgs = Array.isArray(env.node_args) ? env.node_args.map(String) : [];
  if (!env.pm_exec_path) throw new UserError(`pm2's recorded "${p.name}" has no script path; it cannot be started again`, 'Start it by hand: cd ~/services/<name> && pm2 start index.js -n <name> -- <port>');
  // HOME finds pm2's daemon (~/.pm2) even if the record has no environment at all.
  // Started from its folder, as the student did (`cd ~/services/<name> && pm2 start …`): --cwd would add a `cwd` pm2 passes on as a variable.
  await ops.pm2With({ HOME: home, ...studentEnv(env.env) }, env.pm_cwd ?? home, 'start', env.pm_exec_path, '--name', p.name, ...(nodeArgs.length ? ['--node-args', nodeArgs.join(' ')] : []), ...(args.length ? ['--', ...args] : []));
}

/** Keys pm2 adds to a process's recorded environment (its own bookkeeping, set again by the new start). */
const PM2_OWN_ENV = /^(PM2_USAGE|PM2_INTERACTOR_PROCESSING|PM2_JSON_PROCESSING|PM2_PROGRAMMATIC|PM2_DISCRETE_MODE|unique_id|pm_id|NODE_APP_INSTANCE)$/;

/** The variables the student's `pm2 start` had, from pm2_env.env: strings only (pm2 also keeps `<name>: {}`, its per-app env), pm2's own left out. */
export function studentEnv(recorded: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(recorded ?? {}).filter(([k, v]) => typeof v === 'string' && !PM2_OWN_ENV.test(k) && !k.includes('=')) as Array<[string, string]>);
}
