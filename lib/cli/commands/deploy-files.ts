import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkSiteFolder, deployFiles } from '../../deploy/deploy-files';
import { Command, UserError } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const deployFilesCommand: Command = {
  name: 'deploy-files',
  summary: 'publish a static site to the root domain, atomically',
  usage: `Usage: portside deploy-files [dir] [options]

Publishes a folder (default: ./dist if it exists, else ./public) as the site at the root domain. The new
files go to a new release folder; one atomic link switch makes them live; the last 5 are kept.

${TARGET_USAGE}

Examples:
  npx portside deploy-files dist --target local
  npm run deploy-files -- public`,
  async run(ctx) {
    const { positionals, values } = parseArgs({ args: [...ctx.argv], allowPositionals: true, options: { ...TARGET_OPTIONS } });
    if (positionals.length > 1) throw new UserError(`deploy-files takes one folder, got: ${positionals.join(' ')}`);
    const base = ctx.env.INIT_CWD ?? ctx.cwd;
    const dir = positionals[0] !== undefined ? resolve(base, positionals[0]) : existsSync(join(base, 'dist')) ? join(base, 'dist') : join(base, 'public');
    checkSiteFolder(dir);
    const r = await withServer(ctx, values, ({ ssh, address }) => deployFiles(ssh, dir, address, ctx.err));
    ctx.out(r.unchanged ? `the site is up to date: ${r.url}` : `published ${dir} (release ${r.release}, ${r.filesSent} files sent): ${r.url}`);
    return 0;
  },
};
