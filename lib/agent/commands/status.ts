// `status` (read-only): every service the registry or the disk knows, joined with pm2 and a health check.
import { ServiceStatus, StatusResult } from '../../protocol';
import { pm2Port } from '../../remote/pm2-list';
import * as routes from '../routes';
import * as procs from '../procs';
import * as rel from '../releases';
import { safeList, serviceAt, SERVICES } from './shared';

interface Registry {
  readonly services: Readonly<Record<string, number>>;
  readonly paths: { readonly www: string };
}

export async function status(): Promise<StatusResult> {
  const reg = JSON.parse(routes.readRegistryText()) as Registry;
  const list = await procs.pm2List().catch(() => []);
  const names = [...new Set([...Object.keys(reg.services), ...safeList(SERVICES)])].sort();
  const services: ServiceStatus[] = [];
  for (const name of names) services.push(await serviceStatus(name, reg.services[name], list.find((x) => x.name === name) ?? null));
  return { registry: reg, services, site: { release: rel.currentId(rel.layout(reg.paths.www)) } };
}

async function serviceStatus(name: string, port: number | undefined, p: procs.Pm2Process | null): Promise<ServiceStatus> {
  const { l } = serviceAt(name);
  const history = rel.readHistory(l);
  const healthPath = healthPathOf(l);
  return {
    name,
    port: port ?? null,
    registered: port !== undefined,
    release: rel.currentId(l),
    deployedAt: history.length ? history[history.length - 1].at : null,
    process: p?.pm2_env?.status ?? 'none',
    processPort: p ? pm2Port(p) : null,
    restarts: p?.pm2_env?.restart_time ?? null,
    healthPath,
    health: port ? await procs.probeHttp(port, healthPath, 2000) : null,
  };
}

/** The path a service's current release is health-checked at (its manifest says; `/` by default). */
function healthPathOf(l: rel.ReleaseLayout): string {
  const id = rel.currentId(l);
  const m = id ? rel.readManifest(l, id, { anyId: true }) : null;
  return m?.healthPath || '/';
}
