import { userInfo, hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { keepHandWritten, renderCaddyfile, serviceUrl } from '../caddy';
import { UsageError, UserError } from '../errors';
import { nextFreePort, servicePortProblem } from '../ports';
import { parseRegistry, renderRegistry, Registry, withService } from '../registry';
import { COMMAND_STEPS, CurrentRelease, DeployPlan, DeployResult, DigestMessage, newReleaseId, ReleaseState, Routes, StartSpec, stepInfo } from '../protocol';
import { SshSession } from '../ssh';
import { callAgent } from './agent-client';
import { readEnvFile } from './env-file';
import { checkServiceName } from './service-name';
import { diffManifest, ManifestEntry, ReleaseFile, releaseFiles, sameManifest } from './file-list';
import { listRelease, ReleaseListing } from './release-listing';
import { servedBase } from './front-end-base';
import type { HashCache } from './hash-cache';
import { buildIfNeeded, lastBuildBase } from './local-build';
import { inspectServiceFolder, ReleaseSpec } from './service-folder';
import { printer, uploadProgress } from './step-lines';
import { tarStream } from './tar-stream';
import { verifyUrlOnServer } from './verify-url';

export { printer } from './step-lines';

export interface DeployServiceOptions {
  readonly name: string;
  /** The port asked for; undefined keeps the service's port, or takes the next free one from 3000. */
  readonly port?: number;
  readonly dir: string;
  readonly envFile?: string;
  readonly healthPath?: string;
  readonly dryRun?: boolean;
  /** Restart even when nothing changed; rebuild even when the front end's inputs did not change. */
  readonly force?: boolean;
  /** The server's address as users reach it (for URLs when there is no domain). */
  readonly address: string;
  readonly log: (line: string) => void;
  /** A line that updates in place (upload progress); given only when stderr is a terminal. @default - no progress lines */
  readonly status?: (text: string) => void;
  /** How long the new release may take to answer its health check. @default 30000 */
  readonly probeTimeoutMs?: number;
  /** The front-end build, already started by `startBuild` (before connecting); else it starts here. */
  readonly building?: Promise<BuildResult>;
  /** Remembered file hashes, so unchanged files are not read again; the caller saves it. @default - every file is hashed */
  readonly hashes?: HashCache;
  /** The new release's id: a fleet rollout gives every server the same one. @default - a new id */
  readonly releaseId?: string;
}

export interface BuildResult {
  readonly build: 'built' | 'skipped' | 'none';
  readonly ms: number;
  /** The URL path the front end was built for (`/`, or `/<name>/` under path routing). */
  readonly base: string;
}

/**
 * Start the front-end build (or its skip check) now: it needs nothing from the server but its routing,
 * so it runs while the CLI connects and the agent starts, takes the lock and reports the server's state.
 * The routing is guessed from the last build's base (`/` for a first build); a wrong guess is built
 * again once the server's registry says how it routes.
 */
export function startBuild(spec: ReleaseSpec, log: (line: string) => void, force?: boolean, base = lastBuildBase(spec) ?? '/', hashes?: HashCache): Promise<BuildResult> {
  const t0 = Date.now();
  const p = buildIfNeeded(spec, log, force, base, hashes).then((build) => ({ build, ms: Date.now() - t0, base }));
  p.catch(() => {});
  return p;
}

export interface DeployOutcome {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly release: string | null;
  /** The release that was live before, when this deploy started another. */
  readonly previous: string | null;
  /** The agent changed nothing (same files, port and routes, the process online): nothing sent or restarted. */
  readonly unchanged: boolean;
  readonly dryRun: boolean;
  readonly filesSent: number;
  readonly bytesSent: number;
  readonly build: 'built' | 'skipped' | 'none';
  readonly timings: Record<string, number>;
  readonly routesChanged: boolean;
}

/** Check what can be checked before connecting: the name, the port's range, the folder, the env file. */
export function checkDeployInput(o: Pick<DeployServiceOptions, 'name' | 'port' | 'dir' | 'envFile' | 'healthPath'>): { spec: ReleaseSpec; env: string | null } {
  checkServiceName(o.name);
  if (o.port !== undefined) {
    const p = servicePortProblem(o.port);
    if (p) throw new UsageError(`cannot deploy "${o.name}" on port ${o.port}: ${p}`);
  }
  if (o.healthPath !== undefined && !/^\/[\x21-\x7e]*$/.test(o.healthPath)) {
    throw new UsageError(`--health-path ${JSON.stringify(o.healthPath)} must be a URL path starting with "/", e.g. /health`);
  }
  const spec = inspectServiceFolder(o.dir);
  const env = o.envFile ? readEnvFile(o.envFile) : null;
  return { spec, env };
}

export { newReleaseId } from '../protocol';

export const who = (): string => `${userInfo().username}@${hostname()}`;

/** Where the service goes on the server and what that does to the routes (from the server's registry). */
export interface RoutePlan {
  readonly port: number;
  /** The service's port before this deploy, if it had one. */
  readonly existing: number | undefined;
  readonly next: Registry;
  readonly url: string;
  /** New routes to install, or null when the registry and Caddyfile stay as they are. */
  readonly routes: Routes | null;
}

/** The release the plan describes, with what the CLI sends. */
interface ReleasePlan {
  readonly plan: DeployPlan;
  readonly upload?: Readable;
  readonly build: BuildResult['build'];
  /** The files sent (none when unchanged). */
  readonly sent: readonly ReleaseFile[];
}

/** List the release once the build is done; the agent is told the digest (or null when the build failed: nothing will be planned). */
function listAfterBuild(spec: ReleaseSpec, building: Promise<BuildResult>, hashes?: HashCache): { listing: Promise<ReleaseListing>; message: Promise<DigestMessage> } {
  const listing = building.then(() => listRelease(spec.sources, hashes)).then((l) => {
    // The build's inputs were listed before it (or its skip check), the release now: nothing else is this app's.
    hashes?.listedEverything();
    return l;
  });
  listing.catch(() => {});
  return { listing, message: listing.then(({ digest }) => ({ type: 'digest', digest }), () => ({ type: 'digest', digest: null })) };
}

/** Deploy a service folder to the server over one SSH session. */
export async function deployService(ssh: SshSession, o: DeployServiceOptions): Promise<DeployOutcome> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const { spec, env } = checkDeployInput(o);
  const building = o.dryRun ? null : (o.building ?? startBuild(spec, o.log, o.force, undefined, o.hashes));
  const listed = building && listAfterBuild(spec, building, o.hashes);
  let routing: RoutePlan | undefined;
  let release: ReleasePlan | undefined;
  const result = await callAgent(ssh, {
    command: 'deploy',
    header: { service: o.name, who: who(), what: `deploy-service ${o.name}`, readOnly: !!o.dryRun, digestFollows: !!listed },
    afterHeader: listed?.message,
    onMessage: printer(o.log, timings),
    onLog: (text) => text.split('\n').filter((l) => l.trim()).forEach((l) => o.log(`    ${l}`)),
    onState: async (state) => {
      routing = planRoutes(o, state);
      if (!building || !listed) {
        printDryRun(o, spec, env, state.current, routing);
        return null;
      }
      // A rebuild rewrites the output: the current release's files (this listing's) are made first.
      const built = await finishBuild(o, spec, routing, building, timings, async () => {
        const l = await listed.listing;
        if (filesLeftOut(state.current, l)) await l.files();
      });
      release = await planRelease(o, spec, env, state.current, routing, built, listed.listing, timings);
      return release;
    },
  }).finally(() => building?.catch(() => undefined)); // never leave a build running behind a failure
  timings.total = Date.now() - t0;
  return outcome(o, routing, release, result, timings);
}

/** The port (asked for, kept, or the next free one) and the routes it needs; checked against the registry. */
export function planRoutes(o: Pick<DeployServiceOptions, 'name' | 'port' | 'address' | 'log'>, state: ReleaseState): RoutePlan {
  const registry = parseRegistry(state.registry);
  const existing = registry.services[o.name];
  const port = o.port ?? existing ?? nextFreePort(registry.services);
  const problem = servicePortProblem(port, registry.services, o.name);
  if (problem) throw new UserError(`cannot deploy "${o.name}" on port ${port}: ${problem}`);
  const asRendered = state.caddyfile === renderCaddyfile(registry);
  if (existing === port && asRendered) {
    // The usual redeploy: same port, and the live Caddyfile is exactly what the registry renders (its
    // hand-written blocks included, as the registry's `extra`). Nothing to render again or to keep: at 30
    // services the renders and block splits below cost ~15 ms of a cold CLI's time.
    const next = withService(registry, o.name, port);
    return { port, existing, next, url: serviceUrl(next, o.name, o.address), routes: null };
  }
  // Sites added to the Caddyfile by hand are kept (and said so), never dropped by a re-render.
  const next: Registry = keepHandWritten(registry, withService(registry, o.name, port), state.caddyfile, o.log);
  if (existing === port) o.log('  the Caddyfile does not match the registry (a hand edit or an interrupted change): it will be rendered again');
  return { port, existing, next, url: serviceUrl(next, o.name, o.address), routes: { registry: renderRegistry(next), caddyfile: renderCaddyfile(next) } };
}

/** --dry-run: what would happen, step by step; nothing is built, sent or changed. */
function printDryRun(o: DeployServiceOptions, spec: ReleaseSpec, env: string | null, current: CurrentRelease, r: RoutePlan): void {
  o.log(`plan for ${o.name} (dry run: nothing is changed)`);
  o.log(`  folder: ${spec.folder} (${spec.kind})${spec.build ? `; would run ${spec.build.argv.join(' ')}` : ''}`);
  o.log(`  port: ${r.port}${r.existing === undefined ? ' (new service)' : r.existing !== r.port ? ` (moves from ${r.existing})` : ''}`);
  o.log(`  start: ${spec.start.script ? `node ${spec.start.script} ${r.port}` : `npm run ${spec.start.npmScript} -- ${r.port}`}`);
  o.log(`  current release: ${current.id ?? 'none'}`);
  o.log(`  routes: ${r.routes ? 'registry and Caddyfile change; Caddy reloads gracefully' : 'unchanged; Caddy is not reloaded'}`);
  if (env !== null) o.log('  env file: uploaded with mode 0600 (contents not shown)');
  o.log(`  URL: ${r.url}`);
  o.log('  steps on the server:');
  COMMAND_STEPS.deploy.filter((name) => name !== 'route' || r.routes).forEach((name, i) => o.log(`    ${i + 1}. ${name}: ${stepInfo(name).does}`));
}

/**
 * The current release with its files: the agent leaves them out when they have the digest this CLI
 * sent (CurrentRelease.digest), i.e. they are the files of `listing`. Kept as that listing even when
 * the front end is built again for another base: they are what the server has.
 */
async function withListedFiles(current: CurrentRelease, listing: ReleaseListing): Promise<CurrentRelease> {
  if (!filesLeftOut(current, listing)) return current;
  // The listing itself (its entries carry their local source too): compareRelease knows it by identity.
  return { ...current, files: await listing.files() };
}

/** Whether the agent left out the current release's files because they have this listing's digest; throws when it left them out for another. */
function filesLeftOut(current: CurrentRelease, listing: ReleaseListing): boolean {
  if (current.files !== null || current.digest === undefined) return false;
  if (current.digest !== listing.digest) throw new UserError(`the server left out the current release's files for digest ${current.digest}, but this deploy sent ${listing.digest}`, 'Deploy again; if it happens again, report it: the CLI and the agent disagree.');
  return true;
}

/**
 * The front-end build, built again when the server routes the service under another base than guessed.
 * `beforeRebuild` runs first: what must be read of the output as it was (the current release's files,
 * when the server left them out for this listing's digest) is read before the build rewrites it.
 */
async function finishBuild(o: DeployServiceOptions, spec: ReleaseSpec, r: RoutePlan, building: Promise<BuildResult>, timings: Record<string, number>, beforeRebuild: () => Promise<void>): Promise<{ build: BuildResult['build']; rebuilt: boolean }> {
  let built = await building;
  let rebuilt = false;
  const base = servedBase(r.next.routing, o.name);
  if (built.build !== 'none' && built.base !== base) {
    o.log(`  the server routes by ${r.next.routing}: building the front end again for ${base} (it was built for ${built.base})`);
    const first = built.ms;
    await beforeRebuild();
    built = await startBuild(spec, o.log, o.force, base, o.hashes);
    built = { ...built, ms: first + built.ms };
    rebuilt = true;
  }
  timings.build = built.ms;
  return { build: built.build, rebuilt };
}

/** The release's files (listed once the build was done) against the current one's, the plan the agent carries out, and the upload. */
async function planRelease(o: DeployServiceOptions, spec: ReleaseSpec, env: string | null, serverCurrent: CurrentRelease, r: RoutePlan, built: { build: BuildResult['build']; rebuilt: boolean }, listed: Promise<ReleaseListing>, timings: Record<string, number>): Promise<ReleasePlan> {
  const tm = Date.now();
  const listing = await listed;
  const healthPath = o.healthPath ?? spec.healthPath ?? '/';
  const settings = { start: spec.start, port: r.port, healthPath, env, force: !!o.force };
  // The release is the running one, by its digest, and so are its settings: no file is compared or listed (5,000 files: ~15 ms).
  if (!built.rebuilt && filesLeftOut(serverCurrent, listing) && isUnchanged({ ...settings, sameFiles: true, current: serverCurrent })) {
    timings.manifest = Date.now() - tm;
    return { plan: planOf(o, serverCurrent.id || o.releaseId || newReleaseId(), settings, r, { unchanged: true, staticOnly: false, lockfileChanged: false }, null), upload: undefined, build: built.build, sent: [] };
  }
  const current = await withListedFiles(serverCurrent, listing);
  const files = built.rebuilt ? await releaseFiles(spec.sources, o.hashes) : await listing.files();
  const c = compareRelease({ files, current, ...settings, staticPrefixes: spec.sources.map((s) => s.prefix).filter((p) => p !== '') });
  timings.manifest = Date.now() - tm;
  const id = (c.unchanged && current.id) || o.releaseId || newReleaseId();
  const sent = c.unchanged ? [] : c.send;
  const bytes = sent.reduce((n, f) => n + f.s, 0);
  if (!c.unchanged) o.log(`  release ${id}: ${files.length} files, ${c.send.length} to send (${formatBytes(bytes)}), ${c.keep.length} unchanged`);
  // Unchanged: the agent has these files already (its current release's manifest); a 5,000-file list is not sent back.
  const plan = planOf(o, id, settings, r, c, c.unchanged ? null : { files: files.map(({ p, h, s, m }) => ({ p, h, s, m })), keep: c.keep });
  const upload = sent.length ? uploadProgress(tarStream(sent.map((f) => ({ path: f.p, source: f.source, size: f.s, mode: f.m }))), bytes, formatBytes(bytes), o.status) : undefined;
  return { plan, upload, build: built.build, sent };
}

/** The plan the agent carries out; `files` null when the release is the running one's files (sameFilesAsCurrent). */
function planOf(o: DeployServiceOptions, id: string, settings: Pick<ReleaseComparison, 'start' | 'port' | 'healthPath' | 'env'>, r: RoutePlan,
  c: { unchanged: boolean; staticOnly: boolean; lockfileChanged: boolean }, files: Pick<DeployPlan, 'files' | 'keep'> | null): DeployPlan {
  return {
    id, port: settings.port, start: settings.start, healthPath: settings.healthPath, lockfileChanged: c.lockfileChanged,
    ...(files ?? { files: [], keep: [], sameFilesAsCurrent: true }),
    env: settings.env, routes: r.routes, verifyUrl: verifyUrlOnServer(r.next, r.url), unchanged: c.unchanged, staticOnly: c.staticOnly, probeTimeoutMs: o.probeTimeoutMs ?? 30000,
  };
}

/** What compareRelease needs: the new release's files and settings, and the current release. */
export interface ReleaseComparison {
  readonly files: readonly ReleaseFile[];
  readonly current: CurrentRelease;
  readonly start: StartSpec;
  readonly port: number;
  readonly healthPath: string;
  /** The env file to upload, or null to keep the current release's. */
  readonly env: string | null;
  readonly force: boolean;
  /** Path prefixes of built front-end files (e.g. `public/`). */
  readonly staticPrefixes: readonly string[];
}

/**
 * The plan's diff, pure: which files to send and keep, whether the dependencies change, whether the
 * release is the running one (nothing to do) or differs only in built front-end files (no probe).
 */
export function compareRelease(r: ReleaseComparison): { keep: string[]; send: ReleaseFile[]; lockfileChanged: boolean; unchanged: boolean; staticOnly: boolean } {
  const { files, current } = r;
  // The current release's files are this listing when the agent left them out for its digest
  // (withListedFiles): nothing to compare, file by file.
  const same = current.files === files;
  const { keep, send } = same ? { keep: files.map((f) => f.p), send: [] } : diffManifest(files, current.files);
  const lock = (fs: readonly ManifestEntry[] | null): string | undefined => fs?.find((f) => f.p === 'package-lock.json')?.h ?? fs?.find((f) => f.p === 'package.json')?.h;
  const lockfileChanged = lock(files) !== lock(current.files);
  const sameSettings = isSameSettings(current, r);
  const unchanged = isUnchanged({ ...r, sameFiles: same || sameManifest(files, current.files) });
  // Only built front-end files changed (the code, its dependencies and settings are the running
  // release's): the new release would start exactly as the current one does, so the probe on a
  // spare port tells nothing new. The live health check after the handover still gates it.
  const staticOnly = !unchanged && !!current.files && r.staticPrefixes.length > 0 && r.env === null && !lockfileChanged && sameSettings
    && touchedPaths(files, current.files, send).every((p) => r.staticPrefixes.some((prefix) => p.startsWith(prefix)));
  return { keep, send, lockfileChanged, unchanged, staticOnly };
}

/** Whether the current release was started with these settings: its start command, port and health path. */
function isSameSettings(current: CurrentRelease, r: Pick<ReleaseComparison, 'start' | 'port' | 'healthPath'>): boolean {
  const meta = current.meta;
  return JSON.stringify(meta?.start) === JSON.stringify(r.start) && meta?.port === r.port && meta?.healthPath === r.healthPath;
}

/** Whether a release is the running one: the same files and settings, no env file to upload, no --force. */
function isUnchanged(r: Pick<ReleaseComparison, 'current' | 'start' | 'port' | 'healthPath' | 'env' | 'force'> & { readonly sameFiles: boolean }): boolean {
  return !r.force && r.env === null && r.sameFiles && isSameSettings(r.current, r);
}

/** The paths a release changes: those it sends, and those of the current release it no longer has. */
function touchedPaths(files: readonly ManifestEntry[], current: readonly ManifestEntry[], send: readonly ManifestEntry[]): string[] {
  const nextPaths = new Set(files.map((f) => f.p));
  return [...send.map((f) => f.p), ...current.filter((f) => !nextPaths.has(f.p)).map((f) => f.p)];
}

/**
 * The deploy's outcome. Same files is not "nothing happened": the agent still starts them when the
 * process is not running or the routes must change. Only its own answer says whether it changed nothing.
 */
function outcome(o: DeployServiceOptions, r: RoutePlan | undefined, p: ReleasePlan | undefined, result: DeployResult, timings: Record<string, number>): DeployOutcome {
  return {
    name: o.name, port: r?.port ?? 0, url: r?.url ?? '', release: result.id ?? p?.plan.id ?? null, previous: result.previous ?? null,
    unchanged: !!result.unchanged, dryRun: !!o.dryRun || !!result.aborted, filesSent: p?.sent.length ?? 0, bytesSent: p?.sent.reduce((n, f) => n + f.s, 0) ?? 0,
    build: p?.build ?? 'none', timings, routesChanged: !!r?.routes && !result.unchanged,
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
