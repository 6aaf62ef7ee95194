import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchThrough } from '../../lib/net/fetch-through';
import { parseRegistry } from '../../lib/registry';
import type { LockOwner } from '../../lib/agent/lock';
import { LOCK_OWNER_FILE, REGISTRY_FILE } from '../../lib/remote/layout';
import { parsePm2Jlist, Pm2Process } from '../../lib/remote/pm2-list';
import { LocalServer } from '../../lib/targets/local';

/** The stand-in shares this machine's filesystem: read the deploy user's files directly. */
export function userHome(server: LocalServer): string {
  return execFileSync('getent', ['passwd', server.user]).toString().split(':')[5];
}

/** Who holds the server's deploy lock (the agent's owner.json), or null when none is held. */
export function lockOwner(server: LocalServer): LockOwner | null {
  try {
    return JSON.parse(readFileSync(join(userHome(server), LOCK_OWNER_FILE), 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

/** What must be byte-for-byte the same after a failed deploy: registry, Caddyfile, pm2's process list. */
export function snapshot(server: LocalServer, pidsOf?: readonly string[]): { registry: string; caddyfile: string; processes: string } {
  const registry = readFileSync(join(userHome(server), REGISTRY_FILE), 'utf8');
  const caddyfile = readFileSync(parseRegistry(registry).paths.caddyfile, 'utf8');
  return { registry, caddyfile, processes: pm2Processes(server, pidsOf) };
}

/**
 * name, port, pid and status of each pm2 process: a restart changes the pid. With `pidsOf`, only those
 * processes' pids are compared: a process another suite left crash-looping must not fail this one.
 */
export function pm2Processes(server: LocalServer, pidsOf?: readonly string[]): string {
  const raw = execFileSync('ip', ['netns', 'exec', 'portside', 'su', '-', server.user, '-c', 'pm2 jlist'], { encoding: 'utf8' });
  const pid = (p: Pm2Process): string => (!pidsOf || pidsOf.includes(p.name) ? ` ${p.pid}` : '');
  return parsePm2Jlist(raw).map((p) => `${p.name} ${p.pm2_env?.env?.PORT}${pid(p)} ${p.pm2_env?.status}`).sort().join('\n');
}

/** GET a service's URL through Caddy over HTTPS, verified with the stand-in's CA. */
export async function viaCaddy(server: LocalServer, url: string): Promise<{ status: number; body: string }> {
  return fetchThrough(url, server.address, { ca: readFileSync(server.caCertPath) });
}

export function serviceUrl(server: LocalServer, name: string): string {
  return `https://${name}.${server.domain}/`;
}
