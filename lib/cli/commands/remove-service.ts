import { parseArgs } from 'node:util';
import { removeService } from '../../deploy/manage-service';
import { Command, UserError } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const removeServiceCommand: Command = {
  name: 'remove-service',
  summary: 'stop a service, remove its route, free its port',
  usage: `Usage: portside remove-service <name> [--purge] [options]

Stops the service under pm2, removes its route from the registry and the Caddyfile (Caddy reloads
gracefully) and frees its port. Its releases stay on the server unless --purge.

${TARGET_USAGE}

Examples:
  npx portside remove-service startup --target local
  npx portside remove-service old-demo --purge`,
  async run(ctx) {
    const { positionals, values } = parseArgs({ args: [...ctx.argv], allowPositionals: true, options: { ...TARGET_OPTIONS, purge: { type: 'boolean' } } });
    if (positionals.length !== 1) throw new UserError('remove-service takes one service name, e.g. portside remove-service startup');
    await withServer(ctx, values, ({ ssh }) => removeService(ssh, positionals[0], !!values.purge, ctx.err));
    ctx.out(`removed ${positionals[0]}${values.purge ? ' and its files' : ' (its files are kept; --purge deletes them)'}`);
    return 0;
  },
};
