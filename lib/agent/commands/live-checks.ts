// The checks after a switch: the new process stays up after its first answer, and the URL answers
// through Caddy.
import { pm2Port } from '../../remote/pm2-list';
import * as routes from '../routes';
import * as owner from '../port-owner';
import * as procs from '../procs';
import { AgentError, note } from '../protocol-io';

/** How long after its first answer a new release must still be the same, online process. */
export const STAY_UP_MS = 200;
/** How long the URL may take to answer through Caddy after a switch. */
const VERIFY_MS = 10_000;

/** What was seen of a process that did not stay up, for the message: one cause, in words. Pure. */
export function whatChanged(started: procs.Pm2Process | null, now: procs.Pm2Process | null, healthPath: string, status: number | string): string {
  const was = started?.pm2_env;
  const is = now?.pm2_env;
  return [
    !now ? 'pm2 no longer lists it' : now.pid !== started?.pid ? `pm2 runs pid ${now.pid} now, not ${started?.pid ?? null}` : null,
    is && was && is.restart_time !== was.restart_time ? `restarts ${was.restart_time} → ${is.restart_time}` : null,
    is && is.status !== 'online' ? `status ${is.status}` : null,
    `GET ${healthPath}: ${status}`,
  ].filter(Boolean).join('; ');
}

/**
 * Still the same process, still answering, a moment after its first answer. pm2 restarts a worker
 * that exits and the restarted one answers again, so neither the answer alone nor pm2's status alone
 * can tell; the same pid and restart count, and an answer from that process, can. Whatever is seen
 * (refused, answered by the replacement, pm2 given up), the user gets one message. Resolves null or
 * the error (it never rejects: the caller awaits it after other work). `stayUpMs` is how long to wait
 * first (@default STAY_UP_MS).
 */
export async function stillRunning(name: string, port: number, healthPath: string, started: procs.Pm2Process | null, answeredAt: number, stayUpMs = STAY_UP_MS): Promise<AgentError | null> {
  await new Promise((r) => setTimeout(r, Math.max(0, answeredAt + stayUpMs - Date.now())));
  const [answer, now] = await Promise.all([procs.askHealth(port, healthPath, 2000), procs.pm2Find(name)]);
  const same = !!started && !!now && now.pid === started.pid && now.pm2_env?.status === 'online'
    && now.pm2_env.restart_time === started.pm2_env?.restart_time;
  const fromIt = !started || answer.pid === null || owner.isSameOrDescendant(answer.pid, started.pid!);
  if (same && procs.healthy(answer.status) && fromIt) return null;
  return new AgentError(`the new release stopped running right after it started answering GET ${healthPath} on 127.0.0.1:${port} (${whatChanged(started, now, healthPath, answer.status)})`,
    `Its log (portside logs ${name}) says why; a service must keep running after its first answer.`, 'EXITED');
}

/**
 * The new release's probe (the same files on a spare port, left running by startProbe), still running
 * and answering `stayUpMs` after its first answer. Waited out while pm2 hands the live port over, so
 * the stay-up moment costs a deploy little beyond the handover. Resolves null or the error, as
 * stillRunning does, with the same words: one cause, one message.
 */
export async function probeStillRunning(probe: procs.RunningProbe, healthPath: string, stayUpMs = STAY_UP_MS): Promise<AgentError | null> {
  await new Promise((r) => setTimeout(r, Math.max(0, probe.answeredAt + stayUpMs - Date.now())));
  return probeExited(probe, healthPath) ?? probeAnswer(probe, healthPath);
}

/** The error for a probe that has exited since its first answer, else null (no waiting: before a switch). */
export function probeExited(probe: procs.RunningProbe, healthPath: string): AgentError | null {
  const exit = probe.exited();
  return exit ? probeStopped(probe, healthPath, `it exited: ${exit.signal || `exit code ${exit.code}`}`) : null;
}

/** Null when the probe answers healthily itself now, else the error. */
async function probeAnswer(probe: procs.RunningProbe, healthPath: string): Promise<AgentError | null> {
  const answer = await procs.askHealth(probe.port, healthPath, 2000);
  if (procs.healthy(answer.status) && procs.answeredBy(answer, [probe.pid], probe.port) === null) return null;
  return probeExited(probe, healthPath) ?? probeStopped(probe, healthPath, `GET ${healthPath}: ${answer.status}`);
}

function probeStopped(probe: procs.RunningProbe, healthPath: string, what: string): AgentError {
  return new AgentError(`the new release stopped running right after it started answering GET ${healthPath} on 127.0.0.1:${probe.port} (its check on a spare port; ${what})`,
    `A service must keep running after its first answer. Last lines of its output:\n${probe.log()}`, 'EXITED');
}

/** GET the URL through Caddy until it answers below 500 (a TLS error only notes: a certificate may be on its way). */
export async function verifyThroughCaddy(url: string | undefined): Promise<void> {
  if (!url) return;
  const deadline = Date.now() + VERIFY_MS;
  let r: Awaited<ReturnType<typeof routes.viaCaddy>>;
  do {
    r = await routes.viaCaddy(url);
    if (r.status && r.status < 500) return;
    if (r.error && /CERT|SSL|TLS|EPROTO|ECONNRESET/.test(r.error)) {
      note(`route set, but HTTPS to ${url} is not ready yet (${r.error}): Caddy may still be getting the certificate`);
      return;
    }
    await new Promise((res) => setTimeout(res, 200));
  } while (Date.now() < deadline);
  throw new AgentError(`${url} did not answer through Caddy (${r.status || r.error})`, undefined, 'VERIFY');
}

/** Whether pm2's process serves `port` in cluster mode, from the same definition (then a reload hands over without a gap). */
export function reloadable(proc: procs.Pm2Process | null, port: number, prevConfig: string | null, config: procs.Pm2App): boolean {
  return config.exec_mode === 'cluster' && !!proc && pm2Port(proc) === port && proc.pm2_env?.exec_mode === 'cluster_mode' && !!prevConfig
    && JSON.stringify((JSON.parse(prevConfig) as { apps: unknown[] }).apps[0]) === JSON.stringify(config);
}
