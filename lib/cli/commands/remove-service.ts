import { parseArgs } from 'node:util';
import { removeService } from '../../deploy/manage-service';
import { checkServiceName } from '../../deploy/service-name';
import { UsageError } from '../../errors';
import type { Fleet } from '../../fleet/fleet-target';
import { targetFleet } from '../../fleet/fleet-target';
import { parseParallel } from '../../fleet/rollout-plan';
import { Command, CommandContext } from '../command';
import { quietAwsSdkNodeNotice, TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const removeServiceCommand: Command = {
  usage: `Usage: portside remove-service <name> [--purge] [--dry-run] [options]

Stops the service under pm2, removes its route from the registry and the Caddyfile (Caddy reloads
gracefully) and frees its port. Its releases stay on the server unless --purge.

Options:
  --purge              also delete its releases and settings on the server
  --dry-run            say what would be stopped, removed and deleted; change nothing
  --fleet              from every server of the fleet (AWS, or --target local; --parallel N at a
                       time), then out of the fleet's manifest
${TARGET_USAGE}

Examples:
  npx portside remove-service startup --target local
  npx portside remove-service old-demo --purge --dry-run`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true,
      options: { ...TARGET_OPTIONS, purge: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, fleet: { type: 'boolean' }, parallel: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('remove-service takes one service name, e.g. portside remove-service startup');
    const name = checkServiceName(positionals[0]);
    const purge = !!values.purge;
    const fleet = await targetFleet(values, ctx.env, ctx.err);
    if (fleet && values['dry-run']) {
      ctx.out(`remove-service ${name} (dry run: nothing changed) would remove it from ${fleet.servers.length} servers (${fleet.servers.map((s) => s.label).join(', ')}), then from the fleet's manifest${purge ? ', with its files' : ''}`);
      return 0;
    }
    if (fleet) return fleetRemove(ctx, fleet, name, { purge, parallel: parseParallel(values.parallel) });
    const r = await withServer(ctx, values, ({ ssh }) => removeService(ssh, name, purge, ctx.err, { dryRun: values['dry-run'] }));
    if (r.dryRun) {
      const what = [r.process && 'stop its process', r.routePort !== null && `remove its route and free port ${r.routePort}`, purge && 'delete its files'].filter(Boolean);
      ctx.out(`remove-service ${name} (dry run: nothing changed) would ${what.join(', ') || 'change nothing'}`);
      return 0;
    }
    ctx.out(`removed ${name}${purge ? ' and its files' : ' (its files are kept; --purge deletes them)'}`);
    return 0;
  },
};

/** The service off every server of a fleet, then out of its manifest (lib/fleet/fleet-manage.ts). */
async function fleetRemove(ctx: CommandContext, fleet: Fleet, name: string, o: { purge: boolean; parallel: number }): Promise<number> {
  quietAwsSdkNodeNotice();
  // Loaded here: the store's client (the AWS SDK) costs ~0.5 s that a single server's remove never pays.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { removeFromFleet } = require('../../fleet/fleet-manage') as typeof import('../../fleet/fleet-manage');
  const r = await removeFromFleet(fleet, name, { ...o, log: ctx.err });
  ctx.out(`removed ${name} from ${r.servers.length} servers and from the fleet's manifest${o.purge ? ', with its files' : ' (its files are kept; --purge deletes them)'}`);
  return 0;
}
