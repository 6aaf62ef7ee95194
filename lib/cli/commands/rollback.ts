import { parseArgs } from 'node:util';
import { checkReleaseId, rollbackService } from '../../deploy/manage-service';
import { checkServiceName } from '../../deploy/service-name';
import { UsageError } from '../../errors';
import type { Fleet } from '../../fleet/fleet-target';
import { targetFleet } from '../../fleet/fleet-target';
import { parseParallel } from '../../fleet/rollout-plan';
import { Command, CommandContext } from '../command';
import { quietAwsSdkNodeNotice, TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const rollbackCommand: Command = {
  usage: `Usage: portside rollback <name> [--to RELEASE] [--dry-run] [options]

Starts an earlier release (still on the server) on a spare port, health-checks it, then hands the
service's port over to it. If it is not healthy, the current release keeps serving. Nothing is uploaded.

Without --to it goes to the newest release other than the current one, so a second rollback returns
to the release the first one left (like \`cd -\`). The server keeps the last 5 releases of a service.

Options:
  --to RELEASE   go to this release (one of those the server keeps; --dry-run lists them)
  --dry-run      say which release it would go to, and list the others; change nothing
  --fleet        every server of the fleet (AWS, or --target local), one at a time (--parallel N),
                 to a release the fleet's store has; the fleet's manifest moves last
${TARGET_USAGE}

Examples:
  npx portside rollback simon --target local
  npx portside rollback simon --dry-run
  npx portside rollback simon --to 20261130T073456Z-ab12`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true,
      options: { ...TARGET_OPTIONS, to: { type: 'string' }, 'dry-run': { type: 'boolean' }, fleet: { type: 'boolean' }, parallel: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('rollback takes one service name, e.g. portside rollback simon');
    const name = checkServiceName(positionals[0]);
    if (values.to !== undefined) checkReleaseId(values.to, name);
    const fleet = await targetFleet(values, ctx.env, ctx.err);
    if (fleet) return fleetRollback(ctx, fleet, name, { to: values.to, parallel: parseParallel(values.parallel), dryRun: !!values['dry-run'] });
    const r = await withServer(ctx, values, ({ ssh }) => rollbackService(ssh, name, ctx.err, { to: values.to, dryRun: values['dry-run'] }));
    const others = r.releases.filter((id) => id !== r.release);
    const further = others.length ? `; to go elsewhere: portside rollback ${name} --to RELEASE (on the server, newest first: ${others.join(', ')})` : '';
    if (r.dryRun) {
      ctx.out(`rollback ${name} (dry run: nothing changed) would go from ${r.previous} to ${r.release} on port ${r.port}${further}`);
      return 0;
    }
    ctx.out(`rolled ${name} back from ${r.previous} to ${r.release} on port ${r.port}\n`
      + `  a second \`portside rollback ${name}\` returns to ${r.previous}${further}`);
    return 0;
  },
};

/** Every server of a fleet back to one release (lib/fleet/fleet-manage.ts). */
async function fleetRollback(ctx: CommandContext, fleet: Fleet, name: string, o: { to?: string; parallel: number; dryRun: boolean }): Promise<number> {
  quietAwsSdkNodeNotice();
  // Loaded here: the store's client (the AWS SDK) costs ~0.5 s that a single server's rollback never pays.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { rollbackFleet } = require('../../fleet/fleet-manage') as typeof import('../../fleet/fleet-manage');
  const r = await rollbackFleet(fleet, name, { ...o, log: ctx.err });
  if (o.dryRun) {
    ctx.out(`rollback ${name} (dry run: nothing changed) would move ${fleet.servers.length} servers from ${r.previous} to ${r.release}, ${o.parallel} at a time`);
    return 0;
  }
  ctx.out(`rolled ${name} back from ${r.previous} to ${r.release} on ${r.servers.length} servers; the fleet's manifest names ${r.release}`);
  return 0;
}
