/**
 * What the doctor asks of the server and of the network, decided from what it has read so far.
 * Pure, so the choices (which ports, which URLs, which names) are unit-tested without a server.
 */
import { serviceUrl, siteUrl } from '../caddy';
import type { Registry } from '../registry';
import { HEALTH_PATH, HTTP_PORT, SERVER_PORTS } from '../remote/layout';
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
 * A fleet server (or `fleetMember`) is also asked the load balancer's health check.
 */
export function probeRequest(reg: Registry, folders: readonly ServiceFolder[], pm2: readonly Pm2Process[], address: string, fleetMember = false): ProbeRequest {
  const deployed = Object.entries(reg.services).filter(([name]) => folders.some((d) => d.name === name && d.release) || pm2.some((p) => p.name === name));
  const direct = deployed.map(([name, port]) => ({ name, port, path: folders.find((d) => d.name === name)?.healthPath ?? '/' }));
  const viaCaddy = [...deployed.map(([name]) => ({ name, url: serviceUrl(reg, name, address) })), { name: SITE_KEY, url: siteUrl(reg, address) }];
  const health = { name: LB_HEALTH_KEY, url: `http://127.0.0.1:${HTTP_PORT}${HEALTH_PATH}` };
  // A fleet member is asked the health check even when its registry lost `loadBalancer`: the fleet's report shows the answer.
  if (!reg.loadBalancer) return { direct, viaCaddy: fleetMember ? [...viaCaddy, health] : viaCaddy, certificates: servedNames(reg) };
  // Behind a load balancer Caddy serves the same names over plain HTTP on port 80, holds no certificate,
  // and answers the load balancer's health check itself.
  return {
    direct,
    viaCaddy: [...viaCaddy.map((v) => ({ ...v, url: v.url.replace(/^https:/, 'http:') })), health],
    certificates: [],
  };
}

/** Key in `viaCaddy` for a fleet server's answer to the load balancer's health check (GET HEALTH_PATH on port 80). */
export const LB_HEALTH_KEY = '@lb-health';
