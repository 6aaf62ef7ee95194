// `converge`: bring this fleet server to the release store's manifest. It is what a fleet server runs
// at boot (/usr/local/sbin/portside-converge, before it signals success) and what a rollout's catch-up
// runs over SSH. For each service of the manifest not already running its release: the release and
// its descriptor from the store (sha256 checked), its env file from SSM, then `deploy`'s own steps
// (probe → switch → route → verify) in this process, under the lock this command holds. The health
// marker Caddy answers /_portside/health from is written when every service of the manifest passed its
// probe. It is never removed here: on a live server (a catch-up) the running releases keep serving while
// each is replaced with no gap, and an ALB whose check fails for ~20 s has the Auto Scaling group
// terminate the instance. A booting server has no marker (the boot hook removes any left from before)
// until this command has succeeded; a failure here leaves the marker as it was.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { keepHandWritten, renderCaddyfile, serviceUrl, siteUrl } from '../../caddy';
import { verifyUrlOnServer } from '../../deploy/verify-url';
import type { ServerStore } from '../../fleet/server-store';
import type { FleetManifest, ManifestService, ReleaseDescriptor } from '../../fleet/store-layout';
import { writeFileAtomic } from '../../fs/write-atomic';
import { ConvergedService, ConvergeHeader, ConvergeResult, CurrentRelease, PlanMessage, Routes, WireObject } from '../../protocol';
import { parseRegistry, renderRegistry, withService } from '../../registry';
import { BOOTING_MARKER_FILE, CONVERGED_MARKER_FILE, RELEASE_MANIFEST } from '../../remote/layout';
import { pm2Port } from '../../remote/pm2-list';
import * as procs from '../procs';
import { AgentError, Input, note } from '../protocol-io';
import * as rel from '../releases';
import { deploy } from './deploy';
import { deployFiles } from './deploy-files';
import { registryPaths, registryState, serviceAt, stateOf } from './shared';

/** How long a kept release may take to answer its health check. */
const KEPT_HEALTH_MS = 15_000;
/** How long a release installed here may take to answer its probe. */
const PROBE_MS = 60_000;

/**
 * How many passes a converge makes before it gives up: each pass after the first is for a manifest that
 * moved while the one before ran (a rollout finishing meanwhile). @default 5
 */
export const MAX_CONVERGE_PASSES = 5;

/**
 * Converge to the manifest, then read it again: one that moved meanwhile is converged to in turn, so the
 * server ends (and marks itself healthy) on the manifest current when it finished, never an older one.
 */
export async function converge(header: ConvergeHeader): Promise<ConvergeResult> {
  const marker = markerPath();
  const store = loadStore(header);
  let { manifest, exists } = await store.readManifest();
  if (!exists) note(`the store (${store.bucket}) has no manifest yet: nothing to run; this server is ready for a first deploy`);
  for (let pass = 1; ; pass++) {
    const services = await convergeOnce(store, header, manifest);
    const booting = header.boot === true ? join(dirname(marker), BOOTING_MARKER_FILE) : null;
    // At boot the booting marker goes first: a rollout that still sees it afterwards wrote its manifest
    // before the read below, which finds it.
    if (booting) rmSync(booting, { force: true });
    const now = await store.readManifest();
    if (now.exists === exists && (!exists || JSON.stringify(now.manifest) === JSON.stringify(manifest))) {
      writeMarker(marker, manifest);
      return { services, manifest: exists ? manifest.updatedAt : null };
    }
    if (pass >= MAX_CONVERGE_PASSES) {
      throw new AgentError(`the store's manifest moved during each of ${pass} converge passes (last to ${now.manifest.updatedAt}): this server did not settle on one release and is not marked healthy`,
        'Something writes the manifest continuously (rollouts back to back): let them finish, then run the converge again (at boot: replace the server).', 'CONVERGE_UNSETTLED');
    }
    if (booting) writeFileSync(booting, '');
    note(`the manifest moved while this server converged (${exists ? manifest.updatedAt : 'none'} → ${now.manifest.updatedAt}): converging to it (pass ${pass + 1} of at most ${MAX_CONVERGE_PASSES})`);
    ({ manifest, exists } = now);
  }
}

/** Every service of the manifest, then its static site. */
async function convergeOnce(store: ServerStore, header: ConvergeHeader, manifest: FleetManifest): Promise<ConvergedService[]> {
  const services: ConvergedService[] = [];
  for (const [name, entry] of Object.entries(manifest.services)) services.push(await convergeService(store, header, name, entry));
  if (manifest.static?.releaseId) await convergeSite(store, header, manifest.static.release, manifest.static.releaseId);
  return services;
}

/**
 * The store's client (dist/server/store.js, beside this agent): the AWS SDK is loaded only here.
 * Found from the agent's own path: the agent only ever runs as its bundle on the server.
 */
function loadStore(header: ConvergeHeader): ServerStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(join(dirname(process.argv[1]), 'store.js')) as typeof import('../../fleet/server-store');
  return mod.openServerStore(header);
}

/** The health marker's path: beside the live Caddyfile (see CONVERGED_MARKER_FILE). */
function markerPath(): string {
  return join(dirname(registryPaths(registryState().registry).caddyfile), CONVERGED_MARKER_FILE);
}

function writeMarker(marker: string, m: FleetManifest): void {
  mkdirSync(dirname(marker), { recursive: true });
  const releases = Object.fromEntries(Object.entries(m.services).map(([n, s]) => [n, s.releaseId]));
  writeFileAtomic(marker, `${JSON.stringify({ updatedAt: m.updatedAt, releases, convergedAt: new Date().toISOString() })}\n`);
}

/** One service: kept when it runs the manifest's release and answers; else installed from the store. */
async function convergeService(store: ServerStore, header: ConvergeHeader, name: string, entry: ManifestService): Promise<ConvergedService> {
  const svc = serviceAt(name);
  const before = stateOf(svc.l);
  const proc = await procs.pm2Find(name);
  if (before.id === entry.releaseId && proc?.pm2_env?.status === 'online' && pm2Port(proc) === entry.port) {
    await procs.waitHealthy(entry.port, before.meta?.healthPath || '/', KEPT_HEALTH_MS, 0);
    note(`${name}: on release ${entry.releaseId} and healthy`);
    return { name, release: entry.releaseId, action: 'kept' };
  }
  note(`${name}: installing release ${entry.releaseId} from the store (${before.id ? `was ${before.id}` : 'not on this server yet'})`);
  const descriptor = await store.readDescriptor(name, entry.release);
  const archive = await store.readRelease(name, entry.release);
  checkSha(archive, entry.release, name);
  const env = header.env?.[name] ?? await store.serviceEnv(name);
  await withStaleAside(svc.l, entry.releaseId, async () => {
    const plan = deployPlan(name, entry, descriptor, stateOf(svc.l), env);
    await deploy({ service: name, who: header.who || 'converge', what: `converge ${name}` }, planInput(plan, gunzipSync(archive)));
  });
  return { name, release: entry.releaseId, action: 'installed' };
}

/**
 * A folder of the release id being installed may be on the server already: one a rollback left, or the
 * current one whose process is gone (a service removed without --purge). A release is staged into a new
 * folder of its id, so that one is moved aside for the install, deleted after it, put back if it fails.
 */
async function withStaleAside(l: rel.ReleaseLayout, id: string, install: () => Promise<void>): Promise<void> {
  const dir = l.dir(id);
  if (!existsSync(dir)) return install();
  const aside = `${dir}.stale-${process.pid}`;
  renameSync(dir, aside);
  try {
    await install();
  } catch (e) {
    if (!existsSync(dir)) renameSync(aside, dir);
    throw e;
  }
  rmSync(aside, { recursive: true, force: true });
}

/** The static site on the manifest's release (deploy-files' own steps), unless it is on it already. */
async function convergeSite(store: ServerStore, header: ConvergeHeader, sha256: string, releaseId: string): Promise<void> {
  const state = registryState();
  const site = rel.layout(registryPaths(state.registry).www);
  const current = stateOf(site).id;
  if (current === releaseId) return;
  if (existsSync(join(site.dir(releaseId), RELEASE_MANIFEST))) {
    // Static files need no probe: a release still on the server (a deploy-files put back) is switched to.
    note(`site: back to release ${releaseId} (still on this server)`);
    rel.switchTo(site, releaseId);
    return;
  }
  note(`site: installing release ${releaseId} from the store (was ${current ?? 'none'})`);
  const { descriptor, archive } = await store.readStatic(sha256);
  checkSha(archive, sha256, 'the static site');
  const registry = parseRegistry(state.registry);
  const plan: PlanMessage<'deploy-files'> = {
    type: 'plan', upload: true, id: releaseId, unchanged: false, keep: [], files: descriptor.files,
    verifyUrl: verifyUrlOnServer(registry, siteUrl(registry, '127.0.0.1')),
  };
  await deployFiles({ who: header.who || 'converge', what: 'converge site' }, planInput(plan, gunzipSync(archive)));
}

/** An archive read from the store must be the bytes its name (its sha256) says. */
function checkSha(archive: Buffer, expected: string, what: string): void {
  const sha = createHash('sha256').update(archive).digest('hex');
  if (sha !== expected) throw new AgentError(`${what}: the store's release archive has sha256 ${sha}, not ${expected} as its name says`, 'The object was changed or cut short: deploy again.', 'STORE_CORRUPT');
}

/** The plan the CLI would send for this release, from the descriptor and this server's registry. */
function deployPlan(name: string, entry: ManifestService, d: ReleaseDescriptor, before: CurrentRelease, env: string | null): PlanMessage<'deploy'> {
  const lock = (fs: readonly { p: string; h: string }[] | null): string | undefined => fs?.find((f) => f.p === 'package-lock.json')?.h ?? fs?.find((f) => f.p === 'package.json')?.h;
  const { routes, url } = routesFor(name, entry.port);
  return {
    type: 'plan', upload: true, id: entry.releaseId, port: entry.port, start: d.start, healthPath: d.healthPath, files: d.files,
    keep: [], lockfileChanged: lock(d.files) !== lock(before.files), env, routes, verifyUrl: url,
    unchanged: false, staticOnly: false, probeTimeoutMs: PROBE_MS,
  };
}

/** The service on its port in this server's registry, and the routes to install when that changes them. */
function routesFor(name: string, port: number): { routes: Routes | null; url: string } {
  const state = registryState();
  const registry = parseRegistry(state.registry);
  const next = keepHandWritten(registry, withService(registry, name, port), state.caddyfile, note);
  const url = verifyUrlOnServer(next, serviceUrl(next, name, '127.0.0.1'));
  const same = registry.services[name] === port && state.caddyfile === renderCaddyfile(registry);
  return { routes: same ? null : { registry: renderRegistry(next), caddyfile: renderCaddyfile(next) }, url };
}

/** A command's input, as the CLI would send it: the plan, then the release's tar bytes. */
function planInput(plan: PlanMessage<'deploy'> | PlanMessage<'deploy-files'>, tar: Buffer): Input {
  let sent = false;
  return {
    next: async () => {
      if (sent) return null;
      sent = true;
      return plan as unknown as WireObject;
    },
    rest: () => Readable.from([tar]),
  };
}
