import { parseArgs } from 'node:util';
import { listServices } from '../../deploy/manage-service';
import { Command, CommandContext } from '../command';
import { quietAwsSdkNodeNotice, TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';
import { printJson } from '../output';
import type { Fleet } from '../../fleet/fleet-target';
import { targetFleet } from '../../fleet/fleet-target';

export const servicesCommand: Command = {
  usage: `Usage: portside services [--json] [options]

One row per service: name, port, URL, process state, health, current release, deployed at.
--json prints an array of objects with name, port, url, status, health, release, deployedAt.

--fleet: every server of the fleet (on AWS the instances tagged portside:fleet=<stack>; with --target local
the local fleet, \`portside local up --servers N\`; without --fleet, --target local means the local fleet
only when the single stand-in is not up). With a fleet: one block per server (converged
or not: what the load balancer checks), the manifest's release for each service, and a line for each
way the fleet disagrees (exit 1 when it does). --json prints {manifest, servers, disagreements}.

${TARGET_USAGE}

Examples:
  npx portside services --target local
  npx portside services --json | jq '.[] | select(.status != "online")'`,
  async run(ctx) {
    const { values } = parseArgs({ args: [...ctx.argv], options: { ...TARGET_OPTIONS, json: { type: 'boolean' }, fleet: { type: 'boolean' } } });
    const fleet = await targetFleet(values, ctx.env, ctx.err);
    if (fleet) return printFleet(ctx, fleet, !!values.json);
    const rows = await withServer(ctx, values, ({ ssh, address }) => listServices(ssh, address, ctx.err));
    if (values.json) {
      printJson(ctx, rows);
      return 0;
    }
    const table = [['NAME', 'PORT', 'STATUS', 'HEALTH', 'RELEASE', 'DEPLOYED', 'URL'],
      ...rows.map((r) => [r.name, String(r.port ?? '-'), r.status, r.health, r.release ?? '-', r.deployedAt ?? '-', r.url ?? '-'])];
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table) ctx.out(row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
    if (rows.length === 0) ctx.out('(no services yet: portside deploy-service <name>)');
    return 0;
  },
};

/** The fleet's view: a table per server, then the disagreements; exit 1 when the fleet disagrees. */
async function printFleet(ctx: CommandContext, fleet: Fleet, json: boolean): Promise<number> {
  // Loaded here: the store's client (the AWS SDK) costs ~0.5 s that a single server's `services` never pays.
  quietAwsSdkNodeNotice();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { fleetView } = require('../../fleet/fleet-status') as typeof import('../../fleet/fleet-status');
  const view = await fleetView(fleet, ctx.err);
  if (json) {
    printJson(ctx, view);
    return view.disagreements.length ? 1 : 0;
  }
  const m = view.manifest;
  ctx.out(m ? `manifest (${m.updatedAt}): ${Object.entries(m.services).map(([n, e]) => `${n} ${e.releaseId}`).join(', ') || 'no services'}` : 'manifest: none yet (nothing deployed to the fleet)');
  for (const s of view.servers) {
    ctx.out(`${s.server}: ${s.error ? `unreadable (${s.error})` : s.converged ? 'converged (in the load balancer)' : 'NOT converged (out of the load balancer)'}`);
    for (const r of s.services) ctx.out(`  ${r.name}  ${r.status}  ${r.health}  ${r.release ?? '-'}`);
  }
  if (view.disagreements.length === 0) ctx.out(`the fleet agrees: ${view.servers.length} servers on the manifest's releases`);
  else for (const d of view.disagreements) ctx.out(`DISAGREES: ${d}`);
  return view.disagreements.length ? 1 : 0;
}
