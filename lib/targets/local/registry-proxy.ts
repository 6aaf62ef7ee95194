import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_ADDRESS, PATHS, PROXY_PORT, REPO_ROOT, SERVER_ADDRESS } from './constants';
import { PartHealth } from './netns';
import { isAlive, livePid, readPid, sleep, terminate } from './processes';
import { tcpExchange, tcpOpen } from './probe';

export const PROXY_SCRIPT = join(REPO_ROOT, 'assets', 'local', 'registry-proxy.js');
export const PROXY_URL = `http://${HOST_ADDRESS}:${PROXY_PORT}/`;

export interface RegistryTarget {
  /** The registry URL as npm on the host has it. */
  readonly url: string;
  /** `host:port`, the one destination the proxy allows. */
  readonly hostPort: string;
}

/** The one destination the proxy allows, from the registry npm on the host is configured with. */
export function registryTarget(url: string): RegistryTarget {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'http:' ? '80' : '443');
  return { url, hostPort: `${u.hostname.toLowerCase()}:${port}` };
}

/** Where one registry proxy runs: on the host's address of a stand-in network, for that network's servers. */
export interface ProxySite {
  /** The host's address it listens on (port PROXY_PORT). */
  readonly host: string;
  /** The only addresses it answers. */
  readonly clients: readonly string[];
  readonly pidFile: string;
  readonly log: string;
}

/** The single stand-in's proxy (the default everywhere below). */
export const STAND_IN_PROXY: ProxySite = { host: HOST_ADDRESS, clients: [SERVER_ADDRESS, HOST_ADDRESS], pidFile: PATHS.proxyPid, log: PATHS.proxyLog };

/** The npm proxy URL servers on `site`'s network use. */
export function proxyUrl(site: ProxySite): string {
  return `http://${site.host}:${PROXY_PORT}/`;
}

function proxyArgs(target: RegistryTarget, site: ProxySite): string[] {
  return [PROXY_SCRIPT, '--listen', `${site.host}:${PROXY_PORT}`, '--allow', target.hostPort, ...site.clients.flatMap((c) => ['--client', c])];
}

function runningArgs(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1);
  } catch {
    return [];
  }
}

/**
 * The same proxy: the same settings, and the same script — the one this checkout ships, or a byte-for-byte
 * copy started from another checkout of Portside (CI clones the repository anew next to a running one).
 */
function sameProxy(running: readonly string[], wanted: readonly string[]): boolean {
  if (running.slice(1).join(' ') !== wanted.slice(1).join(' ')) return false;
  if (running[0] === wanted[0]) return true;
  try {
    return readFileSync(running[0], 'utf8') === readFileSync(wanted[0], 'utf8');
  } catch {
    return false;
  }
}

/**
 * Keep the registry proxy running on the host side of the veth. Restarts it when it is dead, deaf,
 * allows another registry than npm's current one, or `restart` is set (the veth was recreated).
 * Resolves to true when it (re)started the proxy.
 */
export async function ensureProxy(target: RegistryTarget, log: (line: string) => void, restart = false, site: ProxySite = STAND_IN_PROXY): Promise<boolean> {
  const pid = livePid(site.pidFile);
  const wanted = proxyArgs(target, site);
  if (pid && !restart && sameProxy(runningArgs(pid), wanted) && await tcpOpen(site.host, PROXY_PORT, 1000, site.host)) return false;
  if (pid) await terminate([pid]);
  log(`starting the registry proxy on ${site.host}:${PROXY_PORT} (allows only ${target.hostPort})`);
  const fd = openSync(site.log, 'a');
  try {
    const child = spawn(process.execPath, wanted, { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (!child.pid) throw new Error(`could not start ${PROXY_SCRIPT}`);
    writeFileSync(site.pidFile, `${child.pid}\n`);
    const deadline = Date.now() + 5000;
    while (!(await tcpOpen(site.host, PROXY_PORT, 300, site.host))) {
      if (!isAlive(child.pid) || Date.now() > deadline) {
        throw new Error(`the registry proxy did not start listening on ${site.host}:${PROXY_PORT}; see ${site.log}`);
      }
      await sleep(50);
    }
  } finally {
    closeSync(fd);
  }
  return true;
}

export async function stopProxy(site: ProxySite = STAND_IN_PROXY): Promise<void> {
  const pid = livePid(site.pidFile);
  if (pid) await terminate([pid]);
}

/** Ask the proxy for a tunnel to a host that is not the registry; resolves to its status line. */
export async function proxyAnswerFor(hostPort: string): Promise<string | undefined> {
  const reply = await tcpExchange(HOST_ADDRESS, PROXY_PORT, `CONNECT ${hostPort} HTTP/1.1\r\nHost: ${hostPort}\r\n\r\n`, 2000);
  return reply?.split('\r\n')[0];
}

export async function proxyHealth(site: ProxySite = STAND_IN_PROXY): Promise<PartHealth> {
  const pid = readPid(site.pidFile);
  if (!pid || !isAlive(pid)) return { ok: false, detail: 'not running' };
  if (!(await tcpOpen(site.host, PROXY_PORT, 1000, site.host))) return { ok: false, detail: `pid ${pid} is not listening on ${site.host}:${PROXY_PORT}` };
  const allow = runningArgs(pid)[runningArgs(pid).indexOf('--allow') + 1];
  return { ok: true, detail: `pid ${pid} on ${site.host}:${PROXY_PORT}, allows ${allow}` };
}
