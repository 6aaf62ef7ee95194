// `deploy`: a service's new release goes live, or the running one is left as it was. The steps and what
// each does are listed in lib/protocol/steps.ts; each has its own function here.
import { chmodSync, constants, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CurrentRelease, DeployHeader, DeployResult, newReleaseId, PlanMessage } from '../../protocol';
import { KEEP_RELEASES, PM2_FILE, RELEASE_ENV_FILE } from '../../remote/layout';
import { pm2Port } from '../../remote/pm2-list';
import { install } from '../install';
import * as routes from '../routes';
import { pageProblems } from '../page-check';
import * as procs from '../procs';
import { AgentError, currentStep, Input, note, step } from '../protocol-io';
import * as rel from '../releases';
import { probeExited, probeStillRunning, reloadable, stillRunning, STAY_UP_MS, verifyThroughCaddy } from './live-checks';
import { restoreProcess } from './restore';
import { drain, exchange, expectedDigest, now, readOr, registryState, serviceAt, stateOf } from './shared';

/** One deploy under way: what it started from and what it was asked to do. */
interface Deploy {
  readonly header: DeployHeader;
  readonly plan: PlanMessage<'deploy'>;
  readonly svc: ReturnType<typeof serviceAt>;
  readonly before: CurrentRelease;
  /** The service's pm2 process when the deploy started. */
  readonly proc: procs.Pm2Process | null;
  /** That process is online on the planned port. */
  readonly liveOk: boolean;
  /** The new release's id. */
  readonly id: string;
  /** pm2.json as it was (the previous release's process definition). */
  readonly prevConfig: string | null;
  /** What puts the server back, newest last; a step adds to it as soon as it has changed something. */
  readonly undo: Array<() => Promise<void>>;
}

/** What the switch step leaves for the steps after it. */
interface Switched {
  readonly reloaded: boolean;
  /** Resolves null, or the error for a release that stopped running right after its first answer. */
  readonly stayedUp: Promise<AgentError | null>;
}

export async function deploy(header: DeployHeader, input: Input): Promise<DeployResult> {
  const svc = serviceAt(header.service);
  const before = stateOf(svc.l, await expectedDigest(header, input));
  // The state goes out first (exchange sends it before it waits): the CLI does not need the process to
  // plan, and asking pm2's daemon first loads pm2's RPC modules (~16 ms, synchronous), now while the CLI plans.
  const planned = exchange('deploy', input, { ...registryState(), current: before });
  const procAsked = procs.pm2Find(svc.name);
  procAsked.catch(() => {});
  const asked = await planned;
  if (!asked) return { aborted: true };
  const proc = await procAsked;
  const liveOk = proc?.pm2_env?.status === 'online' && pm2Port(proc) === asked.port;
  if (asked.unchanged && liveOk && !asked.routes) {
    note('nothing changed: same files, same port, same routes, and the service is running; nothing to send or restart (use --force to restart anyway)');
    return { unchanged: true, id: before.id, port: asked.port };
  }
  const plan = withCurrentFiles(asked, svc.l, before);
  mkdirSync(svc.base, { recursive: true, mode: 0o750 });
  // Same files as the current release, but its process is not running or the routes must be rendered
  // again: start a copy of it as a new release (staging into the current release's own folder fails).
  const id = plan.unchanged && plan.id === before.id ? newReleaseId() : plan.id;
  const d: Deploy = { header, plan, svc, before, proc, liveOk, id, prevConfig: readOr(join(svc.base, PM2_FILE)), undo: [] };
  const switched = await goLiveOrUndo(d, input);
  await step('save', () => save(d, switched.reloaded));
  return { id, port: plan.port, previous: before.id };
}

/**
 * The plan with its files: a plan of the current release's files again (`sameFilesAsCurrent`) leaves
 * them out, and they are read from that release's manifest here, before anything is changed.
 */
export function withCurrentFiles(plan: PlanMessage<'deploy'>, l: rel.ReleaseLayout, before: CurrentRelease): PlanMessage<'deploy'> {
  if (!plan.sameFilesAsCurrent) return plan;
  const files = before.id ? rel.readManifest(l, before.id)?.files : undefined;
  if (!files) {
    throw new AgentError(`the CLI planned release ${before.id ?? '(none)'}'s files again, but the server has no readable manifest for it; nothing was changed`,
      'Deploy again; with --force every file is sent.');
  }
  return { ...plan, files, keep: files.map((f) => f.p) };
}

/** Only built front-end files changed and the running release is live: its code is already proven. */
function sameCode(d: Deploy): boolean {
  return d.plan.staticOnly && d.liveOk;
}

/** Every step up to verify; on any failure, undo what was done and remove the unfinished release. */
async function goLiveOrUndo(d: Deploy, input: Input): Promise<Switched> {
  let probe: procs.RunningProbe | null = null;
  // Started now, held until the files are in place: Node's start-up overlaps the upload (probe-hold.ts).
  // Not when an install runs first (it takes seconds; nothing to gain) or no probe will run.
  const held = sameCode(d) || d.plan.lockfileChanged ? null : await procs.holdProbe(d.svc.l.dir(d.id), d.plan.start, {}, d.svc.base);
  try {
    const dir = await step('upload', () => upload(d, input));
    await step('install', () => install(dir, d.plan.lockfileChanged));
    if (sameCode(d)) note('only front-end files changed: the code is the running release\'s, so no probe; the handover is still health-checked');
    // Left running after its first answer: the stay-up check watches it while the port is handed over.
    else probe = await step('probe', () => procs.startProbe(dir, d.plan.start, {}, d.plan.healthPath, d.plan.probeTimeoutMs || 30000, held));
    const switched = await step('switch', () => switchOver(d, probe));
    const newRoutes = d.plan.routes;
    if (newRoutes) await step('route', async () => d.undo.push(await routes.applyRoutes(newRoutes.registry, newRoutes.caddyfile)));
    await step('verify', () => verify(d, switched));
    return switched;
  } catch (e) {
    await undo(d);
    throw e;
  } finally {
    await probe?.end();
    await held?.end();
  }
}

async function undo(d: Deploy): Promise<void> {
  // No current step: the deploy was refused before its first one (a Ctrl-C stop asked for at the start).
  const what = currentStep() === null ? 'stopped before its first step' : `${currentStep()} failed`;
  note(d.undo.length ? `${what}: putting the previous version back` : `${what}: nothing was switched; the running version was not touched`);
  for (const fn of d.undo.reverse()) await fn().catch((err: Error) => note(`undo step failed: ${err.message}`));
  // Also when staging itself failed (a full disk, a cut upload): its partial folder must not stay behind.
  if (rel.currentId(d.svc.l) !== d.id) rmSync(d.svc.l.dir(d.id), { recursive: true, force: true });
}

/** The new release's folder: the current one's files by hard link, the uploaded ones, its manifest and env file. */
async function upload(d: Deploy, input: Input): Promise<string> {
  const { plan, svc, before, id } = d;
  const dir = await rel.stage(svc.l, id, before.id, plan.keep, plan.upload ? input.rest() : null, !plan.lockfileChanged);
  if (!plan.upload) drain(input);
  rel.writeManifest(dir, { id, files: plan.files, start: plan.start, healthPath: plan.healthPath, port: plan.port, by: d.header.who, at: now() });
  writeEnvFile(dir, plan.env, before.id ? svc.l.dir(before.id) : null);
  return dir;
}

/** Point `current` at the new release and hand the port over (reload, or a fresh start); health-check it there. */
async function switchOver(d: Deploy, probe: procs.RunningProbe | null): Promise<Switched> {
  const { plan, svc } = d;
  // A probe that has already stopped after its first answer: refused before the live process is touched.
  const exited = probe && probeExited(probe, plan.healthPath);
  if (exited) throw exited;
  const config = procs.appConfig(svc.name, svc.base, plan.start, plan.port);
  const reloaded = reloadable(d.proc, plan.port, d.prevConfig, config);
  // A stray process on the port would answer in the new release's place: refuse before switching.
  if (!reloaded) await procs.assertPortFree(plan.port, d.proc);
  rel.switchTo(svc.l, d.id);
  d.undo.push(() => restoreProcess(svc.l, svc.base, d.before.id, d.proc, d.prevConfig));
  if (reloaded) await procs.pm2Reload(svc.name, d.proc);
  else await procs.pm2StartFresh(svc.base, config);
  // The process pm2 runs now, taken before its first answer: a worker that exits after answering
  // is replaced by pm2 within milliseconds, and the replacement must not pass for it.
  const started = await procs.pm2Find(svc.name);
  await procs.waitHealthy(plan.port, plan.healthPath, plan.probeTimeoutMs || 30000, 0);
  return { reloaded, stayedUp: stayedUp(d, probe, started, Date.now()) };
}

/**
 * Whether the new release stays up after its first answer. The STAY_UP_MS moment is watched on the probe
 * (the same files, left running through the handover, so the wait overlaps it), and the live process is
 * checked when that moment has passed: still pm2's same process, online, answering itself. Without a
 * probe (only front-end files changed: the code is the running release's, which has stayed up already),
 * the live process is checked at once. The probe is ended once its check is done.
 */
function stayedUp(d: Deploy, probe: procs.RunningProbe | null, started: procs.Pm2Process | null, answeredAt: number): Promise<AgentError | null> {
  const { plan, svc } = d;
  if (!probe) return stillRunning(svc.name, plan.port, plan.healthPath, started, answeredAt, 0);
  const probeChecked = probeStillRunning(probe, plan.healthPath).finally(() => probe.end());
  const live = stillRunning(svc.name, plan.port, plan.healthPath, started, answeredAt, Math.max(0, probe.answeredAt + STAY_UP_MS - answeredAt));
  // The probe's finding first: it is the same whatever the handover's timing (one cause, one message).
  return Promise.all([probeChecked, live]).then(([fromProbe, fromLive]) => fromProbe ?? fromLive);
}

/**
 * Through Caddy, while the stay-up check waits out its moment. A release that stopped running fails
 * with that reason whatever Caddy said meanwhile: one cause, one message.
 */
async function verify(d: Deploy, switched: Switched): Promise<void> {
  const url = d.plan.verifyUrl;
  const verified = verifyThroughCaddy(url).then(() => null, (e: Error) => e);
  // Under a path prefix, check the page's files arrive as files (runs during the stay-up wait).
  const pageChecked = url && new URL(url).pathname !== '/' ? pageProblems(url).catch(() => []) : Promise.resolve([]);
  const exited = await switched.stayedUp;
  if (exited) throw exited;
  const unverified = await verified;
  if (unverified) throw unverified;
  const problems = await pageChecked;
  if (problems.length) note(`warning: ${url} loads, but ${problems.length} file(s) it references do not:\n${problems.map((p) => `    ${p}`).join('\n')}`);
}

/** Record the release and let old ones go (the deploy has succeeded; nothing here undoes it). */
async function save(d: Deploy, reloaded: boolean): Promise<string[]> {
  // A reload keeps pm2's definition of the process as it was (same script path through `current`,
  // same args and env), so the saved process list would not change: skip `pm2 save` (~0.2–0.4 s).
  if (!reloaded) await procs.pm2Save();
  rel.appendHistory(d.svc.l, { id: d.id, at: now(), by: d.header.who, port: d.plan.port });
  // Old releases are moved aside at once and deleted by a detached `rm` after the agent has answered
  // (a release with node_modules is hundreds of files: ~0.1 s that no deploy needs to wait for).
  const pruned = rel.pruneAside(d.svc.l, KEEP_RELEASES);
  rel.prestage(d.svc.l, d.id);
  return pruned;
}

/**
 * The release's env file: the one uploaded with this deploy, or else a copy of the base release's
 * (a deploy without --service-env keeps the service's settings). Copied, never linked: each release
 * owns its files, and a rollback must find the settings that release ran with.
 */
function writeEnvFile(dir: string, uploaded: string | null | undefined, baseDir: string | null): void {
  const envFile = join(dir, RELEASE_ENV_FILE);
  rmSync(envFile, { force: true });
  if (uploaded !== null && uploaded !== undefined) {
    writeFileSync(envFile, uploaded, { mode: 0o600, flag: 'wx' });
    return;
  }
  if (!baseDir) return;
  try {
    copyFileSync(join(baseDir, RELEASE_ENV_FILE), envFile, constants.COPYFILE_EXCL);
    chmodSync(envFile, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
