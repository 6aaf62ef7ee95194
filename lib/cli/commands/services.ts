import { parseArgs } from 'node:util';
import { listServices } from '../../deploy/manage-service';
import { Command } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';
import { printJson } from '../output';

export const servicesCommand: Command = {
  usage: `Usage: portside services [--json] [options]

One row per service: name, port, URL, process state, health, current release, deployed at.
--json prints an array of objects with name, port, url, status, health, release, deployedAt.

${TARGET_USAGE}

Examples:
  npx portside services --target local
  npx portside services --json | jq '.[] | select(.status != "online")'`,
  async run(ctx) {
    const { values } = parseArgs({ args: [...ctx.argv], options: { ...TARGET_OPTIONS, json: { type: 'boolean' } } });
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
