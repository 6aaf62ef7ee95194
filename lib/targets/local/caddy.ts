import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTRY_PATH } from '../../registry';
import { DEPLOY_USER, HOST_ADDRESS, NETNS, PATHS, REPO_ROOT, SERVER_ADDRESS } from './constants';
import { Account } from './deploy-user';
import { inNetns, run } from './exec';
import { PartHealth } from './netns';
import { pidsInNetns, processName, sleep, terminate } from './processes';
import { tcpExchange } from './probe';
import { writeSeedDir } from './seed';

export const BOOTSTRAP_SCRIPT = join(REPO_ROOT, 'assets', 'bootstrap.sh');

/** Where one stand-in's Caddy lives and how its server is laid out by assets/bootstrap.sh --local. */
export interface CaddySite {
  readonly netns: string;
  readonly address: string;
  /** The host's own address on that network: probes leave from it (see probe.ts). */
  readonly from: string;
  readonly user: string;
  readonly www: string;
  readonly caddyDir: string;
  readonly caddyfile: string;
  /** Caddy's XDG folders: its data (the local CA, certificates) and config. */
  readonly xdgData: string;
  readonly xdgConfig: string;
  readonly caddyLog: string;
  readonly bootstrapLog: string;
  /** Caddy's CA root, awaited after a start; undefined when the site serves no HTTPS itself (behind a load balancer). */
  readonly caCert?: string;
  /** Write the seed folder (registry.json, Caddyfile, index.html) the bootstrap reads; resolves to its path. */
  readonly writeSeed: () => string;
}

/** The single stand-in's Caddy (the default everywhere below). */
export const STAND_IN_CADDY: CaddySite = {
  netns: NETNS, address: SERVER_ADDRESS, from: HOST_ADDRESS, user: DEPLOY_USER, www: PATHS.www, caddyDir: PATHS.caddyDir,
  caddyfile: PATHS.caddyfile, xdgData: PATHS.xdgData, xdgConfig: PATHS.xdgConfig, caddyLog: PATHS.caddyLog,
  bootstrapLog: PATHS.bootstrapLog, caCert: PATHS.caCert, writeSeed: () => writeSeedDir(),
};

function caddyPids(site: CaddySite): number[] {
  return pidsInNetns(site.netns).filter((pid) => processName(pid) === 'caddy');
}

async function answersHttp(site: CaddySite): Promise<string | undefined> {
  const reply = await tcpExchange(site.address, 80, `HEAD / HTTP/1.1\r\nHost: ${site.address}\r\nConnection: close\r\n\r\n`, 2000, false, site.from);
  return reply?.startsWith('HTTP/') ? reply.split('\r\n')[0] : undefined;
}

const hasCa = (site: CaddySite): boolean => site.caCert === undefined || existsSync(site.caCert);

/**
 * Lay a server out and start Caddy with assets/bootstrap.sh --local, the same script as EC2, whenever
 * Caddy is not serving. The script is idempotent and keeps what deploys own (the registry, the live
 * Caddyfile, the current site), so running it again only restarts Caddy. Resolves to true when it ran.
 */
export async function ensureCaddy(account: Account, log: (line: string) => void, bootstrapScript = BOOTSTRAP_SCRIPT, site: CaddySite = STAND_IN_CADDY): Promise<boolean> {
  const bootstrapped = existsSync(join(account.home, REGISTRY_PATH)) && existsSync(site.caddyfile);
  if (bootstrapped && caddyPids(site).length > 0 && (await answersHttp(site)) && hasCa(site)) return false;
  await bootstrap(bootstrapScript, bootstrapped, log, site, account.home);
  const deadline = Date.now() + 15000;
  while (!(await answersHttp(site)) || !hasCa(site)) {
    if (Date.now() > deadline) {
      throw new Error(`Caddy is not answering on ${site.address}:80${site.caCert ? ` or has not made its CA (${site.caCert})` : ''}; see ${site.caddyLog} and ${site.bootstrapLog}`);
    }
    await sleep(100);
  }
  return true;
}

async function bootstrap(script: string, again: boolean, log: (line: string) => void, site: CaddySite, home: string): Promise<void> {
  if (!existsSync(script)) {
    throw new Error(`${script} is missing: the stand-in is laid out by the same bootstrap script as EC2 (run with --local)`);
  }
  const seed = site.writeSeed();
  log(again
    ? `Caddy is not serving on ${site.address}: running ${script} --local again (keeps the registry and Caddyfile; log: ${site.bootstrapLog})`
    : `bootstrapping ${site.address} with ${script} --local (log: ${site.bootstrapLog})`);
  const env = {
    ...process.env, XDG_DATA_HOME: site.xdgData, XDG_CONFIG_HOME: site.xdgConfig,
    PORTSIDE_USER: site.user, PORTSIDE_WWW: site.www, PORTSIDE_CADDY_DIR: site.caddyDir, PORTSIDE_SEED_DIR: seed,
    PORTSIDE_CADDY_LOG: site.caddyLog,
    // bootstrap.sh reads PORTSIDE_HOME as the deploy user's home; the CLI's own PORTSIDE_HOME (its state dir,
    // lib/ssh/paths.ts) must not reach it, or the registry is seeded there and the deploy user gets none.
    PORTSIDE_HOME: home,
  };
  const fd = openSync(site.bootstrapLog, 'a');
  try {
    // A file, not a pipe: Caddy started by the script inherits it and would keep a pipe open forever.
    const r = run(inNetns(['bash', script, '--local'], site.netns), { env, stdio: ['ignore', fd, fd], timeout: 120_000 });
    if (r.code !== 0) {
      const tail = readFileSync(site.bootstrapLog, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      throw new Error(`\`ip netns exec ${site.netns} bash ${script} --local\` exited with ${r.code}; last lines of ${site.bootstrapLog}:\n${tail}`);
    }
  } finally {
    closeSync(fd);
  }
}

export async function stopCaddy(site: CaddySite = STAND_IN_CADDY): Promise<void> {
  await terminate(caddyPids(site));
}

export async function caddyHealth(site: CaddySite = STAND_IN_CADDY): Promise<PartHealth> {
  const pids = caddyPids(site);
  if (pids.length === 0) return { ok: false, detail: 'not running' };
  const status = await answersHttp(site);
  if (!status) return { ok: false, detail: `pid ${pids.join(',')} does not answer HTTP on ${site.address}:80` };
  if (!hasCa(site)) return { ok: false, detail: `its CA root ${site.caCert} is missing` };
  return { ok: true, detail: `pid ${pids.join(',')} on ${site.address}:80${site.caCert ? '/443' : ''} (http: ${status})` };
}
