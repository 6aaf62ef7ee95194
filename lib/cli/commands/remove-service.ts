import { parseArgs } from 'node:util';
import { removeService } from '../../deploy/manage-service';
import { checkServiceName } from '../../deploy/service-name';
import { UsageError } from '../../errors';
import { Command } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const removeServiceCommand: Command = {
  usage: `Usage: portside remove-service <name> [--purge] [--dry-run] [options]

Stops the service under pm2, removes its route from the registry and the Caddyfile (Caddy reloads
gracefully) and frees its port. Its releases stay on the server unless --purge.

Options:
  --purge              also delete its releases and settings on the server
  --dry-run            say what would be stopped, removed and deleted; change nothing
${TARGET_USAGE}

Examples:
  npx portside remove-service startup --target local
  npx portside remove-service old-demo --purge --dry-run`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true,
      options: { ...TARGET_OPTIONS, purge: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
    });
    if (positionals.length !== 1) throw new UsageError('remove-service takes one service name, e.g. portside remove-service startup');
    const name = checkServiceName(positionals[0]);
    const purge = !!values.purge;
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
