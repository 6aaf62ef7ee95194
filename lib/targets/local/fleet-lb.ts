import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { HTTP_PORT, HTTPS_PORT } from '../../remote/layout';
import { inNetns, run } from './exec';
import { FLEET_DOMAIN, FLEET_HOST_ADDRESS, FLEET_PATHS, LB_ADDRESS, LB_HEALTH_INTERVAL_MS, LB_NETNS } from './fleet-constants';
import { lbUpstreamAddresses, renderLbCaddyfile } from './fleet-lb-caddyfile';
import { PartHealth } from './netns';
import { pidsInNetns, processName, sleep, terminate } from './processes';
import { tcpExchange } from './probe';

const CADDY_ENV = { XDG_DATA_HOME: FLEET_PATHS.lbXdgData, XDG_CONFIG_HOME: FLEET_PATHS.lbXdgConfig };
/** Caddy's admin endpoint inside the load balancer's namespace (its own loopback). */
const ADMIN = '127.0.0.1:2019';

function lbPids(): number[] {
  return pidsInNetns(LB_NETNS).filter((pid) => processName(pid) === 'caddy');
}

/** The status line the load balancer gives a plain-HTTP request for the domain (a redirect to HTTPS). */
async function answersHttp(): Promise<string | undefined> {
  const reply = await tcpExchange(LB_ADDRESS, HTTP_PORT, `HEAD / HTTP/1.1\r\nHost: ${FLEET_DOMAIN}\r\nConnection: close\r\n\r\n`, 2000, false, FLEET_HOST_ADDRESS);
  return reply?.startsWith('HTTP/') ? reply.split('\r\n')[0] : undefined;
}

/**
 * Keep the load balancer's Caddy running with a Caddyfile for exactly these servers: started when it is
 * not running, reloaded gracefully (admin API) when the servers changed. Resolves to true when it did either.
 */
export async function ensureLoadBalancer(servers: readonly string[], log: (line: string) => void): Promise<boolean> {
  mkdirSync(FLEET_PATHS.lbDir, { recursive: true, mode: 0o755 });
  const text = renderLbCaddyfile({ domain: FLEET_DOMAIN, servers, healthIntervalMs: LB_HEALTH_INTERVAL_MS });
  const changed = !existsSync(FLEET_PATHS.lbCaddyfile) || readFileSync(FLEET_PATHS.lbCaddyfile, 'utf8') !== text;
  if (changed) writeFileSync(FLEET_PATHS.lbCaddyfile, text, { mode: 0o644 });
  const running = lbPids().length > 0 && (await answersHttp()) !== undefined;
  if (running && !changed && existsSync(FLEET_PATHS.lbCaCert)) return false;
  if (running) {
    log(`reloading the load balancer for ${servers.length} server(s)`);
    caddy(['reload', '--config', FLEET_PATHS.lbCaddyfile, '--adapter', 'caddyfile', '--address', ADMIN]);
  } else {
    await terminate(lbPids());
    log(`starting the load balancer (Caddy) on ${LB_ADDRESS}:${HTTPS_PORT} for https://${FLEET_DOMAIN}/ and *.${FLEET_DOMAIN}, round robin over ${servers.join(', ')}`);
    caddy(['start', '--config', FLEET_PATHS.lbCaddyfile, '--adapter', 'caddyfile']);
  }
  const deadline = Date.now() + 15000;
  while (!(await answersHttp()) || !existsSync(FLEET_PATHS.lbCaCert)) {
    if (Date.now() > deadline) throw new Error(`the load balancer is not answering on ${LB_ADDRESS}:${HTTP_PORT} or has not made its CA (${FLEET_PATHS.lbCaCert}); see ${FLEET_PATHS.lbLog}`);
    await sleep(100);
  }
  return true;
}

/**
 * The servers registered with the load balancer: the addresses its Caddyfile proxies to (the file is what
 * `ensureLoadBalancer` last started or reloaded it with). None when it has no Caddyfile yet.
 */
export function registeredServers(): string[] {
  return existsSync(FLEET_PATHS.lbCaddyfile) ? lbUpstreamAddresses(readFileSync(FLEET_PATHS.lbCaddyfile, 'utf8')) : [];
}

/** Run a caddy subcommand inside the load balancer's namespace; its output goes to the log (a file: `caddy start` keeps it). */
function caddy(args: readonly string[]): void {
  const fd = openSync(FLEET_PATHS.lbLog, 'a');
  try {
    const r = run(inNetns(['caddy', ...args], LB_NETNS), { env: { ...process.env, ...CADDY_ENV }, stdio: ['ignore', fd, fd], timeout: 30_000 });
    if (r.code !== 0) {
      const tail = readFileSync(FLEET_PATHS.lbLog, 'utf8').trimEnd().split('\n').slice(-10).join('\n');
      throw new Error(`\`caddy ${args[0]}\` for the load balancer exited with ${r.code}; last lines of ${FLEET_PATHS.lbLog}:\n${tail}`);
    }
  } finally {
    closeSync(fd);
  }
}

/** Stop the load balancer's Caddy (every caddy process in its namespace). */
export async function stopLoadBalancer(): Promise<void> {
  await terminate(lbPids());
}

/** Running, answering on port 80 (the redirect to HTTPS), and its CA root made. */
export async function loadBalancerHealth(): Promise<PartHealth> {
  const pids = lbPids();
  if (pids.length === 0) return { ok: false, detail: 'not running' };
  const status = await answersHttp();
  if (!status) return { ok: false, detail: `pid ${pids.join(',')} does not answer on ${LB_ADDRESS}:${HTTP_PORT}` };
  if (!existsSync(FLEET_PATHS.lbCaCert)) return { ok: false, detail: `its CA root ${FLEET_PATHS.lbCaCert} is missing` };
  return { ok: true, detail: `pid ${pids.join(',')} on ${LB_ADDRESS}:${HTTP_PORT}/${HTTPS_PORT} (http: ${status})` };
}
