// `rollback`: an earlier release goes live again, probed first; nothing is uploaded.
import { join } from 'node:path';
import { RollbackHeader, RollbackResult } from '../../protocol';
import { PM2_FILE } from '../../remote/layout';
import { pm2Port } from '../../remote/pm2-list';
import * as procs from '../procs';
import { AgentError, step } from '../protocol-io';
import * as rel from '../releases';
import { pickTarget } from '../rollback-target';
import { restoreProcess } from './restore';
import { now, readOr, serviceAt } from './shared';

/** How long the release rolled back to may take to answer (it answered before). */
const ROLLBACK_HEALTH_MS = 30_000;

export async function rollback(header: RollbackHeader): Promise<RollbackResult> {
  const { name, base, l } = serviceAt(header.service);
  const cur = rel.currentId(l);
  if (!cur) throw new AgentError(`"${name}" has no current release on this server`, `Deploy it first: portside deploy-service ${name}`, 'NO_RELEASE');
  const { target, candidates } = pickTarget(name, l, cur, header.to);
  const meta = rel.readManifest(l, target, { anyId: true });
  const curMeta = rel.readManifest(l, cur, { anyId: true });
  const port = curMeta?.port ?? meta?.port;
  if (!meta?.start || port === undefined) throw new AgentError(`release ${target} of "${name}" has no usable manifest (how to start it, its port)`, undefined, 'NO_MANIFEST');
  const releases = candidates.map((c) => c.id);
  if (header.dryRun) return { id: target, previous: cur, port, dryRun: true, releases };
  const healthPath = meta.healthPath || '/';
  const proc = await procs.pm2Find(name);
  const prevConfig = readOr(join(base, PM2_FILE));
  await step('probe', () => procs.probe(l.dir(target), meta.start!, {}, healthPath, ROLLBACK_HEALTH_MS));
  try {
    await step('switch', async () => {
      rel.switchTo(l, target);
      const config = procs.appConfig(name, base, meta.start!, port);
      const same = !!prevConfig && JSON.stringify((JSON.parse(prevConfig) as { apps: unknown[] }).apps[0]) === JSON.stringify(config);
      if (proc && pm2Port(proc) === port && same) await procs.pm2Reload(name);
      else await procs.pm2StartFresh(base, config);
      await procs.waitHealthy(port, healthPath, ROLLBACK_HEALTH_MS);
    });
  } catch (e) {
    await restoreProcess(l, base, cur, proc, prevConfig).catch(() => {});
    throw e;
  }
  await procs.pm2Save();
  rel.appendHistory(l, { id: target, at: now(), by: header.who, port, rollbackFrom: cur });
  rel.prestage(l, target);
  return { id: target, previous: cur, port, releases };
}
