// After a killed deploy (its lock was stale): drop half-made releases, candidate Caddyfiles and probes
// nobody will finish.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CADDYFILE_CANDIDATE_PREFIX } from '../../remote/layout';
import * as routes from '../routes';
import * as procs from '../procs';
import { note } from '../protocol-io';
import * as rel from '../releases';
import { registryPaths, safeList, serviceAt, SERVICES } from './shared';

/** Prefix of the candidate Caddyfile a route change validates before swapping it in (routes.js). */

export function recover(): void {
  const removed: string[] = [];
  for (const name of safeList(SERVICES)) {
    removed.push(...rel.removeOrphans(serviceAt(name).l).map((id) => `${name}/${id}`));
  }
  try {
    const paths = registryPaths(routes.readRegistryText());
    removed.push(...rel.removeOrphans(rel.layout(paths.www)).map((id) => `www/${id}`));
    const dir = dirname(paths.caddyfile);
    for (const f of safeList(dir)) if (f.startsWith(CADDYFILE_CANDIDATE_PREFIX)) rmSync(join(dir, f), { force: true });
  } catch {
    /* no registry: nothing else to clean */
  }
  if (removed.length) note(`removed unfinished releases left by the killed deploy: ${removed.join(', ')}`);
  const probes = procs.endOrphanProbes();
  if (probes.length) note(`ended the probe processes the killed deploy left running (process groups ${probes.join(', ')})`);
}
