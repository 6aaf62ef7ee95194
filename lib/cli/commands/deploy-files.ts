import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkSiteFolder, deployFiles } from '../../deploy/deploy-files';
import { UsageError } from '../../errors';
import type { Fleet } from '../../fleet/fleet-target';
import { targetFleet } from '../../fleet/fleet-target';
import { parseParallel } from '../../fleet/rollout-plan';
import { Command, CommandContext } from '../command';
import { quietAwsSdkNodeNotice, TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const deployFilesCommand: Command = {
  usage: `Usage: portside deploy-files [--dir PATH] [--dry-run] [options]

Publishes a folder as the site at the root domain. The new files go to a new release folder; one
atomic link switch makes them live; the last 5 are kept. Only files that differ from the live
release are sent.

Options:
  --dir PATH           the site's folder (default: ./dist if it exists, else ./public)
  --dry-run            say what would be sent; change nothing
  --fleet              every server of the fleet (AWS, or --target local; --parallel N at a time);
                       the site is stored once and the fleet's manifest moves last
${TARGET_USAGE}

Examples:
  npx portside deploy-files --dir dist --target local
  npm run deploy-files -- --dir public --dry-run`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true, options: { ...TARGET_OPTIONS, dir: { type: 'string' }, 'dry-run': { type: 'boolean' }, fleet: { type: 'boolean' }, parallel: { type: 'string' } },
    });
    // The folder is --dir, as on deploy-service: one flag for one concept.
    if (positionals.length) throw new UsageError(`deploy-files takes its folder as --dir, got: ${positionals.join(' ')}`, `e.g. portside deploy-files --dir ${positionals[0]}`);
    const base = ctx.env.INIT_CWD ?? ctx.cwd;
    const dir = values.dir !== undefined ? resolve(base, values.dir) : existsSync(join(base, 'dist')) ? join(base, 'dist') : join(base, 'public');
    checkSiteFolder(dir);
    const parallel = parseParallel(values.parallel);
    const fleet = await targetFleet(values, ctx.env, ctx.err);
    if (fleet && values['dry-run']) {
      ctx.out(`deploy-files (dry run: nothing changed) would store ${dir} once, then publish it on ${fleet.servers.length} servers, ${parallel} at a time`);
      return 0;
    }
    if (fleet) return fleetFiles(ctx, fleet, dir, parallel);
    const r = await withServer(ctx, values, ({ ssh, address }) => deployFiles(ssh, dir, address, ctx.err, { dryRun: values['dry-run'] }));
    if (r.dryRun) {
      ctx.out(`deploy-files (dry run: nothing changed) would ${r.unchanged ? 'send nothing: the site is up to date' : `publish ${dir} as release ${r.release} (${r.filesSent} of ${r.files} files sent)`}: ${r.url}`);
    } else {
      ctx.out(r.unchanged ? `the site is up to date: ${r.url}` : `published ${dir} (release ${r.release}, ${r.filesSent} files sent): ${r.url}`);
    }
    return 0;
  },
};

/** The site on every server of a fleet (lib/fleet/fleet-files.ts). */
async function fleetFiles(ctx: CommandContext, fleet: Fleet, dir: string, parallel: number): Promise<number> {
  quietAwsSdkNodeNotice();
  // Loaded here: the store's client (the AWS SDK) costs ~0.5 s that a single server's deploy-files never pays.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { deployFilesToFleet } = require('../../fleet/fleet-files') as typeof import('../../fleet/fleet-files');
  const r = await deployFilesToFleet(fleet, dir, { parallel, log: ctx.err });
  ctx.out(`published ${dir} (release ${r.releaseId}, ${r.files} files) on ${r.servers.length} servers: ${r.url}`);
  return 0;
}
