import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkSiteFolder, deployFiles } from '../../deploy/deploy-files';
import { UsageError } from '../../errors';
import { Command } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const deployFilesCommand: Command = {
  usage: `Usage: portside deploy-files [--dir PATH] [--dry-run] [options]

Publishes a folder as the site at the root domain. The new files go to a new release folder; one
atomic link switch makes them live; the last 5 are kept. Only files that differ from the live
release are sent.

Options:
  --dir PATH           the site's folder (default: ./dist if it exists, else ./public)
  --dry-run            say what would be sent; change nothing
${TARGET_USAGE}

Examples:
  npx portside deploy-files --dir dist --target local
  npm run deploy-files -- --dir public --dry-run`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true, options: { ...TARGET_OPTIONS, dir: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    });
    // The folder is --dir, as on deploy-service: one flag for one concept.
    if (positionals.length) throw new UsageError(`deploy-files takes its folder as --dir, got: ${positionals.join(' ')}`, `e.g. portside deploy-files --dir ${positionals[0]}`);
    const base = ctx.env.INIT_CWD ?? ctx.cwd;
    const dir = values.dir !== undefined ? resolve(base, values.dir) : existsSync(join(base, 'dist')) ? join(base, 'dist') : join(base, 'public');
    checkSiteFolder(dir);
    const r = await withServer(ctx, values, ({ ssh, address }) => deployFiles(ssh, dir, address, ctx.err, { dryRun: values['dry-run'] }));
    if (r.dryRun) {
      ctx.out(`deploy-files (dry run: nothing changed) would ${r.unchanged ? 'send nothing: the site is up to date' : `publish ${dir} as release ${r.release} (${r.filesSent} of ${r.files} files sent)`}: ${r.url}`);
    } else {
      ctx.out(r.unchanged ? `the site is up to date: ${r.url}` : `published ${dir} (release ${r.release}, ${r.filesSent} files sent): ${r.url}`);
    }
    return 0;
  },
};
