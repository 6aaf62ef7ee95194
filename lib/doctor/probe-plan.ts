/**
 * What the doctor asks of the server and of the network, decided from what it has read so far.
 * Pure, so the choices (which ports, which URLs, which names) are unit-tested without a server.
 */
import { serviceUrl, siteUrl } from '../caddy';
import type { Registry } from '../registry';
import { SERVER_PORTS } from '../remote/layout';
import { SITE_KEY } from './checks';
import type { ProbeRequest } from './remote/messages';
import type { ListeningSocket, Pm2Process, ServiceFolder } from './types';

/**
 * The ports to try from outside: the server's own, every registered service's, every port pm2 runs
 * something on and every port something listens on, ascending. Only the model's outward ports may open.
 */
export function portsToProbe(services: Registry['services'], pm2: readonly Pm2Process[], sockets: readonly ListeningSocket[]): number[] {
  const ports = new Set<number>([
    ...SERVER_PORTS, ...Object.values(services), ...pm2.map((p) => p.port).filter((p): p is number => !!p), ...sockets.map((s) => s.port),
  ]);
  return [...ports].sort((a, b) => a - b);
}

/** The names Caddy serves: the domain and, with subdomain routing, one per service (none without a domain). */
export function servedNames(reg: Registry): string[] {
  if (!reg.domain) return [];
  return [reg.domain, ...(reg.routing === 'subdomain' ? Object.keys(reg.services).sort().map((n) => `${n}.${reg.domain}`) : [])];
}

/**
 * What to GET on the server: each deployed service (a release or a pm2 process) directly at its
 * health path and through Caddy at its URL, the site at the root; and each served name's certificate.
 */
export function probeRequest(reg: Registry, folders: readonly ServiceFolder[], pm2: readonly Pm2Process[], address: string): ProbeRequest {
  const deployed = Object.entries(reg.services).filter(([name]) => folders.some((d) => d.name === name && d.release) || pm2.some((p) => p.name === name));
  return {
    direct: deployed.map(([name, port]) => ({ name, port, path: folders.find((d) => d.name === name)?.healthPath ?? '/' })),
    viaCaddy: [...deployed.map(([name]) => ({ name, url: serviceUrl(reg, name, address) })), { name: SITE_KEY, url: siteUrl(reg, address) }],
    certificates: servedNames(reg),
  };
}
