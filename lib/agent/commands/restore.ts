import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { pm2Port } from '../../remote/pm2-list';
import * as procs from '../procs';
import { note } from '../protocol-io';
import * as rel from '../releases';
import { run } from '../run';

/**
 * Put a service back as it was: `current` on the previous release, and its process as pm2 ran it
 * (a reload when the same cluster process still serves its port, else a fresh start from the saved
 * definition). A service that had no release or no process ends with neither.
 */
export async function restoreProcess(l: rel.ReleaseLayout, base: string, prevId: string | null, prevProc: procs.Pm2Process | null, prevConfig: string | null): Promise<void> {
  const name = basename(base);
  if (prevId) rel.switchTo(l, prevId);
  else rmSync(l.current, { force: true });
  if (!prevProc || !prevConfig) {
    if (await procs.pm2Find(name)) await run('pm2', ['delete', name]);
    return;
  }
  const config = (JSON.parse(prevConfig) as { apps: procs.Pm2App[] }).apps[0];
  const now = await procs.pm2Find(name);
  if (now?.pm2_env?.status === 'online' && pm2Port(now) !== null && pm2Port(now) === pm2Port(prevProc) && now.pm2_env.exec_mode === 'cluster_mode') {
    // A reload keeps the port served throughout; a crash-looping new release can make pm2 refuse it.
    try {
      await procs.pm2Reload(name);
      return;
    } catch (e) {
      note(`pm2 could not reload ${name} (${(e as Error).message}); starting the previous release afresh`);
    }
  }
  await procs.pm2StartFresh(base, config);
}
