import type { Registry } from '../registry/registry';
import { ADOPT_DIR, onServer } from '../remote/layout';
import { ADOPTED_CADDYFILE, adoptedApp, caddyfileWith, handoverName } from './adopted';
import type { PlannedService } from './plan-types';
import { jlistOf } from './record';
import { AdoptServer, settle } from './server-ops';

/**
 * The first half of a hand-over: a stand-in of each service's current release on its probe port
 * (fork mode, with the preload, so it drains when stopped), each answering before Caddy is sent to
 * them by a graceful reload of Portside's Caddyfile with those ports. Then the real port is free to
 * change hands. `ports`: the probe port of each service; `running`: stand-ins already up (a stopped
 * run's), which are reused.
 */
export async function routeToStandIns(ops: AdoptServer, home: string, services: readonly PlannedService[], registry: Registry, ports: Readonly<Record<string, number>>, running: ReadonlySet<string> = new Set()): Promise<void> {
  const toStart = services.filter((x) => !running.has(x.name));
  // A stand-in of that name can be left by a run killed on the server (its `pm2 start` outlived it):
  // `pm2 start` would restart it as it was, on its old port. It goes first.
  const left = toStart.length ? new Set((jlistOf(await ops.pm2('jlist')) as Array<{ name?: string }>).map((p) => p.name)) : new Set();
  for (const s of toStart) {
    if (left.has(handoverName(s.name))) await ops.pm2('delete', handoverName(s.name));
    await ops.pm2StartApp(onServer(home, `${ADOPT_DIR}/${handoverName(s.name)}.json`), { ...adoptedApp(home, s, ports[s.name], handoverName(s.name)), exec_mode: 'fork' });
    await ops.waitForHttp(ports[s.name]);
  }
  const file = `${onServer(home, ADOPTED_CADDYFILE)}.handover`;
  await ops.writeFile(file, caddyfileWith(registry, ports));
  await ops.reloadCaddy(file);
  await settle();
}
