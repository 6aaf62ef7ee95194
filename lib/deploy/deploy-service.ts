import { userInfo, hostname } from 'node:os';
import { keepHandWritten, renderCaddyfile, serviceUrl } from '../caddy';
import { UsageError, UserError } from '../errors';
import { serviceNameProblem } from '../config/validators';
import { nextFreePort, servicePortProblem } from '../ports';
import { parseRegistry, renderRegistry, Registry, withService } from '../registry';
import { SshSession } from '../ssh';
import { callAgent } from './agent-client';
import { readEnvFile } from './env-file';
import { diffManifest, ManifestEntry, ReleaseFile, releaseFiles, sameManifest } from './file-list';
import { servedBase } from './front-end-base';
import type { HashCache } from './hash-cache';
import { buildIfNeeded, lastBuildBase } from './local-build';
import { inspectServiceFolder, ReleaseSpec } from './service-folder';
import { printer, uploadProgress } from './step-lines';
import { tarStream } from './tar-stream';

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
  const nameProblem = serviceNameProblem(o.name);
  if (nameProblem) throw new UsageError(`invalid service name ${JSON.stringify(o.name)}: ${nameProblem}`);
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

export function newReleaseId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}

export const who = (): string => `${userInfo().username}@${hostname()}`;

/** Deploy a service folder to the server over one SSH session. */
export async function deployService(ssh: SshSession, o: DeployServiceOptions): Promise<DeployOutcome> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const { spec, env } = checkDeployInput(o);
  let port = 0;
  let url = '';
  let routesChanged = false;
  let build: DeployOutcome['build'] = 'none';
  let sent: ReleaseFile[] = [];
  let unchanged = false;
  let release: string | null = null;
  const building = o.dryRun ? null : (o.building ?? startBuild(spec, o.log, o.force, undefined, o.hashes));

  const result = await callAgent(ssh, {
    command: 'deploy',
    header: { service: o.name, who: who(), what: `deploy-service ${o.name}`, readOnly: !!o.dryRun },
    onMessage: printer(o.log, timings),
    onLog: (text) => text.split('\n').filter((l) => l.trim()).forEach((l) => o.log(`    ${l}`)),
    onState: async (state) => {
      const registry = parseRegistry(state.registry as string);
      const current = state.current as { id: string | null; files: ManifestEntry[] | null; meta: Record<string, unknown> | null };
      const existing = registry.services[o.name];
      port = o.port ?? existing ?? nextFreePort(registry.services);
      const problem = servicePortProblem(port, registry.services, o.name);
      if (problem) throw new UserError(`cannot deploy "${o.name}" on port ${port}: ${problem}`);
      // Sites added to the Caddyfile by hand are kept (and said so), never dropped by a re-render.
      const next: Registry = keepHandWritten(registry, withService(registry, o.name, port), (state.caddyfile as string | null) ?? null, o.log);
      url = serviceUrl(next, o.name, o.address);
      let routes: { registry: string; caddyfile: string } | null = null;
      if (existing !== port) {
        routesChanged = true;
        routes = { registry: renderRegistry(next), caddyfile: renderCaddyfile(next) };
      } else if (state.caddyfile !== renderCaddyfile(registry)) {
        o.log('  the Caddyfile does not match the registry (a hand edit or an interrupted change): it will be rendered again');
        routesChanged = true;
        routes = { registry: renderRegistry(next), caddyfile: renderCaddyfile(next) };
      }

      if (o.dryRun) {
        o.log(`plan for ${o.name} (dry run: nothing is changed)`);
        o.log(`  folder: ${spec.folder} (${spec.kind})${spec.build ? `; would run ${spec.build.argv.join(' ')}` : ''}`);
        o.log(`  port: ${port}${existing === undefined ? ' (new service)' : existing !== port ? ` (moves from ${existing})` : ''}`);
        o.log(`  start: ${spec.start.script ? `node ${spec.start.script} ${port}` : `npm run ${spec.start.npmScript} -- ${port}`}`);
        o.log(`  current release: ${current.id ?? 'none'}`);
        o.log(`  routes: ${routes ? 'registry and Caddyfile change; Caddy reloads gracefully' : 'unchanged; Caddy is not reloaded'}`);
        if (env !== null) o.log('  env file: uploaded with mode 0600 (contents not shown)');
        o.log(`  URL: ${url}`);
        return null;
      }

      let built = await building!;
      const base = servedBase(next.routing, o.name);
      if (built.build !== 'none' && built.base !== base) {
        o.log(`  the server routes by ${next.routing}: building the front end again for ${base} (it was built for ${built.base})`);
        const first = built.ms;
        built = await startBuild(spec, o.log, o.force, base, o.hashes);
        built = { ...built, ms: first + built.ms };
      }
      build = built.build;
      timings.build = built.ms;
      const tm = Date.now();
      const files = await releaseFiles(spec.sources, o.hashes);
      const { keep, send } = diffManifest(files, current.files);
      timings.manifest = Date.now() - tm;
      sent = send;
      const lock = (fs: readonly ManifestEntry[] | null): string | undefined => fs?.find((f) => f.p === 'package-lock.json')?.h ?? fs?.find((f) => f.p === 'package.json')?.h;
      const lockfileChanged = lock(files) !== lock(current.files);
      const healthPath = o.healthPath ?? spec.healthPath ?? '/';
      const meta = current.meta ?? {};
      unchanged = !o.force && env === null && sameManifest(files, current.files)
        && JSON.stringify(meta.start) === JSON.stringify(spec.start) && meta.port === port && meta.healthPath === healthPath;
      release = unchanged ? current.id : newReleaseId();
      // Only built front-end files changed (the code, its dependencies and settings are the running
      // release's): the new release would start exactly as the current one does, so the probe on a
      // spare port tells nothing new. The live health check after the handover still gates it.
      const staticPrefixes = spec.sources.map((s) => s.prefix).filter((p) => p !== '');
      const nextPaths = new Set(files.map((f) => f.p));
      const touched = [...send.map((f) => f.p), ...(current.files ?? []).filter((f) => !nextPaths.has(f.p)).map((f) => f.p)];
      const staticOnly = !unchanged && !!current.files && staticPrefixes.length > 0 && env === null && !lockfileChanged
        && JSON.stringify(meta.start) === JSON.stringify(spec.start) && meta.port === port && meta.healthPath === healthPath
        && touched.every((p) => staticPrefixes.some((prefix) => p.startsWith(prefix)));
      const bytes = send.reduce((n, f) => n + f.s, 0);
      if (!unchanged) o.log(`  release ${release}: ${files.length} files, ${send.length} to send (${formatBytes(bytes)}), ${keep.length} unchanged`);
      return {
        plan: {
          id: release, port, start: spec.start, healthPath, files: files.map(({ p, h, s, m }) => ({ p, h, s, m })), keep,
          lockfileChanged, env, routes, verifyUrl: url, unchanged, staticOnly, probeTimeoutMs: o.probeTimeoutMs ?? 30000,
        },
        upload: send.length && !unchanged ? uploadProgress(tarStream(send.map((f) => ({ path: f.p, source: f.source, size: f.s, mode: f.m }))), bytes, formatBytes(bytes), o.status) : undefined,
      };
    },
  }).finally(() => building?.catch(() => undefined)); // never leave a build running behind a failure
  timings.total = Date.now() - t0;
  // Same files is not "nothing happened": the agent still starts them when the process is not running
  // or the routes must change. Only its own answer says whether it changed nothing.
  const filesSent = unchanged ? 0 : sent.length;
  const bytesSent = unchanged ? 0 : sent.reduce((n, f) => n + f.s, 0);
  if (typeof result.id === 'string') release = result.id;
  return {
    name: o.name, port, url, release, previous: typeof result.previous === 'string' ? result.previous : null, unchanged: !!result.unchanged,
    dryRun: !!o.dryRun || !!result.aborted, filesSent, bytesSent, build, timings, routesChanged: routesChanged && !result.unchanged,
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
