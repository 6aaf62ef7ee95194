import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deployFiles } from '../../deploy/deploy-files';
import { deployService } from '../../deploy/deploy-service';
import { fetchThrough } from '../../net/fetch-through';
import { localUp } from '../../targets/local';
import { PACKAGE_ROOT } from '../../package-root';
import { Command } from '../command';
import { withServer } from '../connect';

const ASSETS = join(PACKAGE_ROOT, 'assets');

/** The bundled samples and where they go: the same ports as cdk.json's default `services`. */
export const DEMO_SERVICES: ReadonlyArray<{ name: string; port: number }> = [
  { name: 'simon', port: 3000 },
  { name: 'startup', port: 4000 },
];

export const demoCommand: Command = {
  usage: `Usage: portside demo

Brings the local stand-in server up (network namespace, sshd, Caddy, pm2; needs root on Linux),
deploys the bundled sample services (simon on 3000, startup on 4000) and the sample home page, then
fetches each URL through Caddy over HTTPS and prints what answered.

Examples:
  npm run demo`,
  async run(ctx) {
    parseArgs({ args: [...ctx.argv], options: {} });
    ctx.err('1/4 bringing up the local server');
    const server = await localUp({ log: ctx.err });
    const ca = readFileSync(server.caCertPath);
    const urls: string[] = [];
    await withServer(ctx, { target: 'local' }, async ({ ssh, address }) => {
      for (const [i, s] of DEMO_SERVICES.entries()) {
        ctx.err(`${i + 2}/4 deploying ${s.name} on port ${s.port}`);
        const r = await deployService(ssh, { name: s.name, port: s.port, dir: join(ASSETS, 'samples', s.name), address, log: ctx.err, status: ctx.status });
        urls.push(r.url);
      }
      ctx.err('4/4 publishing the home page');
      const site = await deployFiles(ssh, join(ASSETS, 'www'), address, ctx.err);
      urls.unshift(site.url);
    });
    ctx.out('');
    ctx.out(`Fetched through Caddy over HTTPS at ${server.address} (verified with the local CA):`);
    let failed = 0;
    for (const url of urls) {
      try {
        const r = await fetchThrough(url, server.address, { ca });
        const text = r.body.replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 70);
        ctx.out(`  ${r.status}  ${url.padEnd(32)} ${text}`);
        if (r.status >= 400) failed++;
      } catch (e) {
        failed++;
        ctx.out(`  ERR  ${url.padEnd(32)} ${(e as Error).message}`);
      }
    }
    ctx.out('');
    ctx.out(failed ? `${failed} URL(s) did not answer` : 'All services answer. Try: npm run services -- --target local');
    return failed ? 1 : 0;
  },
};
