// `sync`: adopt <caddy dir>/declared.json (written by a later `cdk deploy`): the CLI merges, this applies.
import { dirname, join } from 'node:path';
import { BaseHeader, ProcessState, SyncResult } from '../../protocol';
import { DECLARED_FILE } from '../../remote/layout';
import { pm2Port } from '../../remote/pm2-list';
import * as routes from '../routes';
import * as procs from '../procs';
import { Input, step } from '../protocol-io';
import { exchange, readOr, registryPaths, registryState } from './shared';

/** The file `cdk deploy` writes beside the Caddyfile with the declared configuration. */

export async function sync(_header: BaseHeader, input: Input): Promise<SyncResult> {
  const state = registryState();
  const declared = readOr(join(dirname(registryPaths(state.registry).caddyfile), DECLARED_FILE));
  const list = await procs.pm2List().catch(() => []);
  const processes: Record<string, ProcessState> = Object.fromEntries(list.map((p) => [p.name, { status: p.pm2_env?.status ?? 'unknown', port: pm2Port(p) }]));
  const plan = await exchange('sync', input, { ...state, declared, processes });
  if (!plan) return { aborted: true };
  const newRoutes = plan.routes;
  if (!newRoutes) return { unchanged: true };
  await step('route', () => routes.applyRoutes(newRoutes.registry, newRoutes.caddyfile));
  return { synced: true };
}
