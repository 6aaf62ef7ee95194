// `remove`: stop a service and take its route away; its files stay unless the plan says purge.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RemoveResult, ServiceHeader } from '../../protocol';
import { PM2_FILE } from '../../remote/layout';
import { pm2Port } from '../../remote/pm2-list';
import * as routes from '../routes';
import * as procs from '../procs';
import { Input, step } from '../protocol-io';
import { run } from '../run';
import { exchange, readOr, registryState, serviceAt } from './shared';

export async function remove(header: ServiceHeader, input: Input): Promise<RemoveResult> {
  const { name, base } = serviceAt(header.service);
  const proc = await procs.pm2Find(name);
  const process = proc ? { status: proc.pm2_env?.status ?? 'unknown', port: pm2Port(proc) } : null;
  const plan = await exchange('remove', input, { ...registryState(), process });
  if (!plan) return { aborted: true };
  const prevConfig = readOr(join(base, PM2_FILE));
  if (proc) await step('stop', () => run('pm2', ['delete', name]));
  const newRoutes = plan.routes;
  try {
    if (newRoutes) await step('route', () => routes.applyRoutes(newRoutes.registry, newRoutes.caddyfile));
  } catch (e) {
    if (proc && prevConfig) await procs.pm2StartFresh(base, (JSON.parse(prevConfig) as { apps: procs.Pm2App[] }).apps[0]).catch(() => {});
    throw e;
  }
  await procs.pm2Save();
  if (plan.purge) await step('purge', async () => rmSync(base, { recursive: true, force: true }));
  return { removed: name, purged: !!plan.purge };
}
