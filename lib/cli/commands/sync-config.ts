import { parseArgs } from 'node:util';
import { syncConfig } from '../../deploy/sync-config';
import { UsageError } from '../../errors';
import { Command } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const syncConfigCommand: Command = {
  usage: `Usage: portside sync-config [--dry-run] [options]

A later \`npx cdk deploy\` never touches the running server's registry or Caddyfile: it leaves the
declared configuration beside them (declared.json, next to the live Caddyfile). sync-config compares
it with the live registry, prints what differs (domain, email, routing, service ports) and adopts it
as one route change: Caddy validates the new Caddyfile and reloads gracefully, or nothing changes.
Services deployed with the CLI and not declared keep their routes. A running service is never moved
here: redeploy it on its new port with \`portside deploy-service <name> <port>\`.

Options:
  --dry-run            print what differs; change nothing
${TARGET_USAGE}

Examples:
  npx portside sync-config --dry-run
  npx portside sync-config --target local`,
  async run(ctx) {
    const { positionals, values } = parseArgs({ args: [...ctx.argv], allowPositionals: true, options: { ...TARGET_OPTIONS, 'dry-run': { type: 'boolean' } } });
    if (positionals.length !== 0) throw new UsageError('sync-config takes no arguments, e.g. portside sync-config --dry-run');
    const dryRun = !!values['dry-run'];
    const r = await withServer(ctx, values, ({ ssh }) => syncConfig(ssh, { dryRun, log: ctx.err }));
    if (r.state === 'nothing-declared') {
      ctx.out('nothing declared on this server yet: run `npx cdk deploy` to send the configuration in cdk.json (it is written beside the live Caddyfile as declared.json); nothing was changed');
    } else if (r.state === 'in-sync') {
      ctx.out('already in sync: the live registry matches the declared configuration; nothing was changed, Caddy was not reloaded');
    } else if (r.state === 'dry-run') {
      ctx.out(`dry run: ${r.changes.length} change${r.changes.length === 1 ? '' : 's'} would be adopted; nothing was changed`);
    } else {
      ctx.out(`adopted the declared configuration (${r.changes.length} change${r.changes.length === 1 ? '' : 's'}); Caddy reloaded gracefully`);
    }
    return 0;
  },
};
