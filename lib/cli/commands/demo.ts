import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deployFiles } from '../../deploy/deploy-files';
import { deployService } from '../../deploy/deploy-service';
import { fetchThrough } from '../../net/fetch-through';
import { checkServerCount, localFleetUp, localUp } from '../../targets/local';
import { UsageError } from '../../errors';
import { PACKAGE_ROOT } from '../../package-root';
import { Command, CommandContext } from '../command';
import { quietAwsSdkNodeNotice, withServer } from '../connect';

const ASSETS = join(PACKAGE_ROOT, 'assets');

/** The bundled samples and where they go: the same ports as cdk.json's default `services`. */
export const DEMO_SERVICES: ReadonlyArray<{ name: string; port: number }> = [
  { name: 'simon', port: 3000 },
  { name: 'startup', port: 4000 },
];

export const demoCommand: Command = {
  usage: `Usage: portside demo [--servers N]

Brings the local stand-in server up (network namespace, sshd, Caddy, pm2; needs root on Linux),
deploys the bundled sample services (simon on 3000, startup on 4000) and the sample home page, then
fetches each URL through Caddy over HTTPS and prints what answered.

--servers N: the same on a local fleet instead (\`portside local up --servers N\`: N servers behind a
load balancer, releases in an S3-compatible store): each sample is rolled out to every server, then
fetched through the load balancer.

Examples:
  npm run demo
  npm run demo -- --servers 3`,
  async run(ctx) {
    const { values } = parseArgs({ args: [...ctx.argv], options: { servers: { type: 'string' } } });
    if (values.servers !== undefined) return fleetDemo(ctx, serverCount(values.servers));
    const progress = numbered(ctx.err, 1 + DEMO_SERVICES.length + 1);
    progress('bringing up the local server');
    const server = await localUp({ log: ctx.err });
    const urls = await deploySamples(ctx, progress);
    ctx.out('');
    ctx.out(`Fetched through Caddy over HTTPS at ${server.address} (verified with the local CA):`);
    const failed = await fetchEach(ctx, urls, server.address, readFileSync(server.caCertPath));
    ctx.out('');
    ctx.out(failed ? `${failed} URL(s) did not answer` : 'All services answer. Try: npm run services -- --target local');
    return failed ? 1 : 0;
  },
};

/** --servers' value, or a usage error with the rule. */
function serverCount(text: string): number {
  try {
    return checkServerCount(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The demo on a local fleet: each sample rolled out to every server, then fetched through the load balancer. */
async function fleetDemo(ctx: CommandContext, servers: number): Promise<number> {
  const progress = numbered(ctx.err, 1 + DEMO_SERVICES.length);
  progress(`bringing up a local fleet of ${servers} server(s)`);
  const local = await localFleetUp({ servers, log: ctx.err });
  // Loaded here, as deploy-service does: the store's client (the AWS SDK) is for the fleet path only.
  quietAwsSdkNodeNotice();
  const [{ localFleet }, { deployToFleet }] = await Promise.all([import('../../fleet/fleet-target'), import('../../fleet/fleet-deploy')]);
  const fleet = await localFleet(ctx.env, ctx.err);
  const urls: string[] = [];
  for (const s of DEMO_SERVICES) {
    progress(`rolling ${s.name} (port ${s.port}) out to ${servers} server(s)`);
    const o = await deployToFleet(fleet, { name: s.name, port: s.port, dir: join(ASSETS, 'samples', s.name), log: ctx.err, status: ctx.status });
    urls.push(o.url);
  }
  ctx.out('');
  ctx.out(`Fetched through the load balancer over HTTPS at ${local.loadBalancer.address} (verified with its local CA):`);
  const failed = await fetchEach(ctx, [`https://${local.domain}/`, ...urls], local.loadBalancer.address, readFileSync(local.caCertPath));
  ctx.out('');
  ctx.out(failed ? `${failed} URL(s) did not answer` : 'All services answer. Try: sudo npx portside local status --fleet');
  return failed ? 1 : 0;
}

/** Progress lines numbered from the count of stages, so adding a sample renumbers them all. */
function numbered(err: (line: string) => void, total: number): (what: string) => void {
  let n = 0;
  return (what) => err(`${++n}/${total} ${what}`);
}

/** Deploy each sample service, then the home page; the URLs to fetch, home page first. */
async function deploySamples(ctx: CommandContext, progress: (what: string) => void): Promise<string[]> {
  const urls: string[] = [];
  await withServer(ctx, { target: 'local' }, async ({ ssh, address }) => {
    for (const s of DEMO_SERVICES) {
      progress(`deploying ${s.name} on port ${s.port}`);
      const r = await deployService(ssh, { name: s.name, port: s.port, dir: join(ASSETS, 'samples', s.name), address, log: ctx.err, status: ctx.status });
      urls.push(r.url);
    }
    progress('publishing the home page');
    const site = await deployFiles(ssh, join(ASSETS, 'www'), address, ctx.err);
    urls.unshift(site.url);
  });
  return urls;
}

/** Fetch each URL through Caddy, print its status and the start of its text; the number that failed. */
async function fetchEach(ctx: CommandContext, urls: readonly string[], address: string, ca: Buffer): Promise<number> {
  let failed = 0;
  for (const url of urls) {
    try {
      const r = await fetchThrough(url, address, { ca });
      const text = r.body.replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 70);
      ctx.out(`  ${r.status}  ${url.padEnd(32)} ${text}`);
      if (r.status >= 400) failed++;
    } catch (e) {
      failed++;
      ctx.out(`  ERR  ${url.padEnd(32)} ${(e as Error).message}`);
    }
  }
  return failed;
}
