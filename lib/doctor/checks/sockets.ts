import { RESERVED_PORTS, ReservedPort } from '../../ports';
import { CADDY_ADMIN_PORT, HTTP_PORT, HTTPS_PORT, PROBE_PORT_MIN, SERVER_PORTS } from '../../remote/layout';
import { CheckResult, DoctorFacts, ListeningSocket, failed } from '../types';
import { hostPort, isLoopback } from './addresses';
import type { CheckFamily } from './family';
import { behindLoadBalancer, LB_TERMINATES_TLS } from './fleet-mode';

/** Loopback listeners that belong to the operating system, not to anyone's mistake. */
const SYSTEM_LOOPBACK: ReadonlyArray<{ port: number; process: RegExp }> = [
  { port: 53, process: /^systemd-resolve/ },
];

const describeHolder = (s: ListeningSocket): string =>
  s.processes.length ? `${s.processes.join(', ')} (pid ${s.pids.join(', ')})` : 'a process this user cannot see';

const addresses = (socks: readonly ListeningSocket[], port: number): string => socks.map((s) => hostPort(s.address, port)).join(', ');

/** No domain: Caddy serves the site as `:80` only, and 443 stays closed by design. */
export const plainHttpOnly = (f: DoctorFacts): boolean => !failed(f.registry) && !f.registry.domain;

/**
 * What listens on the server (`ss -ltnp`): sshd on 22, Caddy on 80 and 443 and its admin API on
 * loopback 2019, each registered service on its own port on loopback, and nothing else.
 */
export function socketChecks(f: DoctorFacts): CheckResult[] {
  if (failed(f.sockets)) {
    return [{ id: 'sockets.read', status: 'fail', message: `could not list the listening sockets: ${f.sockets.error}`, fix: 'install iproute2 on the server (it provides ss)' }];
  }
  const byPort = new Map<number, ListeningSocket[]>();
  for (const s of f.sockets) byPort.set(s.port, [...(byPort.get(s.port) ?? []), s]);
  const others = [...byPort].filter(([port]) => !SERVER_PORTS.includes(port)).sort(([a], [b]) => a - b);
  return [
    ...RESERVED_PORTS.map((r) => reservedPortCheck(f, r, byPort.get(r.port) ?? [])),
    ...others.map(([port, socks]) => otherPortCheck(f, port, socks)),
  ];
}

/** A port the server holds for itself: held by the right program, on the right addresses, once. */
function reservedPortCheck(f: DoctorFacts, r: ReservedPort, socks: readonly ListeningSocket[]): CheckResult {
  if (r.port === HTTPS_PORT && behindLoadBalancer(f)) return fleetHttpsSockets(socks);
  if (socks.length === 0) return reservedPortMissing(f, r);
  const name = r.holder === 'sshd' ? /^sshd/ : /^caddy/;
  const stranger = socks.find((s) => s.processes.length > 0 && !s.processes.some((p) => name.test(p)));
  if (stranger) {
    return { id: `sockets.holder.${r.port}`, status: 'fail', message: `port ${r.port} should be ${r.holder}'s but ${describeHolder(stranger)} holds it`, fix: `stop that process and restart ${r.holder}` };
  }
  const open = socks.filter((s) => !isLoopback(s.address));
  if (r.loopbackOnly && open.length > 0) {
    return {
      id: `sockets.public.${r.port}`, status: 'fail', message: `${r.protocol} listens on ${hostPort(open[0].address, r.port)}, beyond loopback: whoever reaches it can rewrite Caddy's configuration`,
      fix: `bind it to loopback: \`admin localhost:${CADDY_ADMIN_PORT}\` in the Caddyfile's global options (Caddy's default)`,
    };
  }
  const dup = socks.find((s, i) => socks.findIndex((t) => t.address === s.address) !== i);
  if (dup) {
    const n = socks.filter((s) => s.address === dup.address).length;
    return {
      id: `sockets.duplicate.${r.port}`, status: 'fail',
      message: `${r.holder} holds ${n} listening sockets on ${hostPort(dup.address, r.port)}: a refused reload leaked them (Caddy 2.6.2), and new connections are spread across them, so most of them fail`,
      fix: `restart ${r.holder} (sudo systemctl restart ${r.holder === 'sshd' ? 'ssh' : 'caddy'}); a reload cannot close leaked listeners`,
    };
  }
  return { id: `sockets.ok.${r.port}`, status: 'pass', message: `${r.holder} listens on ${addresses(socks, r.port)} (${r.protocol})` };
}

/** A fleet server's 443: nothing should listen there (a TLS site beside the load balancer is a wrong Caddyfile). */
function fleetHttpsSockets(socks: readonly ListeningSocket[]): CheckResult {
  if (socks.length === 0) return { id: `sockets.missing.${HTTPS_PORT}`, status: 'pass', message: `nothing listens on ${HTTPS_PORT}, as it should on a fleet server: ${LB_TERMINATES_TLS}` };
  return {
    id: `sockets.fleet.${HTTPS_PORT}`, status: 'warn', message: `${describeHolder(socks[0])} listens on ${addresses(socks, HTTPS_PORT)}, but this server is behind a load balancer: ${LB_TERMINATES_TLS}`,
    fix: 'the live Caddyfile has a TLS site: compare it with the registry (the drift checks); `portside caddyfile -c servers=N` shows what a fleet server serves',
  };
}

/** Nothing on a port the server holds: a failure, except HTTPS without a domain and the admin API. */
function reservedPortMissing(f: DoctorFacts, r: ReservedPort): CheckResult {
  if (r.port === HTTPS_PORT && plainHttpOnly(f)) {
    return {
      id: `sockets.missing.${HTTPS_PORT}`, status: 'info', message: `nothing listens on ${HTTPS_PORT}: the server has no domain yet, so Caddy serves plain HTTP on ${HTTP_PORT} (as documented)`,
      fix: `set a domain (cdk.json "domain", then portside sync-config) to get HTTPS on ${HTTPS_PORT}`,
    };
  }
  return {
    id: `sockets.missing.${r.port}`, status: r.port === CADDY_ADMIN_PORT ? 'warn' : 'fail', message: `nothing listens on port ${r.port} (${r.holder}, ${r.protocol})`,
    fix: r.holder === 'sshd' ? 'start sshd' : 'start Caddy: sudo systemctl restart caddy (and read journalctl -u caddy)',
  };
}

/** Any other port: a registered service on loopback only; anything else is named by who holds it. */
function otherPortCheck(f: DoctorFacts, port: number, socks: readonly ListeningSocket[]): CheckResult {
  const services = failed(f.registry) ? {} : f.registry.services;
  const owner = Object.entries(services).find(([, p]) => p === port)?.[0];
  const open = socks.filter((s) => !isLoopback(s.address));
  if (owner) return serviceSocketCheck(owner, port, socks, open);
  if (open.length > 0) {
    return {
      id: `sockets.unregistered.${port}`, status: 'fail',
      message: `port ${port} listens on ${hostPort(open[0].address, port)} (${describeHolder(open[0])}) and no service is registered on it`,
      fix: `stop it${open[0].pids.length ? ` (kill ${open[0].pids.join(' ')})` : ''}, or deploy it as a service (portside deploy-service <name>) so it gets a loopback port behind Caddy`,
    };
  }
  return loopbackStrayCheck(f, port, socks);
}

/** A registered service's port: on loopback only, or it can be reached without Caddy. */
function serviceSocketCheck(owner: string, port: number, socks: readonly ListeningSocket[], open: readonly ListeningSocket[]): CheckResult {
  if (open.length === 0) return { id: `sockets.ok.${port}`, status: 'pass', message: `service "${owner}" listens on ${addresses(socks, port)} only` };
  return {
    id: `sockets.public.${port}`, status: 'fail',
    message: `service "${owner}" listens on ${hostPort(open[0].address, port)} (${describeHolder(open[0])}), not only on 127.0.0.1: it can be reached without Caddy`,
    fix: `redeploy it so pm2 starts it with Portside's preload (which binds it to 127.0.0.1): portside deploy-service ${owner} --force`,
  };
}

/** A loopback listener nobody registered: pm2's, the system's, a deploy's probe, or a stranger's. */
function loopbackStrayCheck(f: DoctorFacts, port: number, socks: readonly ListeningSocket[]): CheckResult {
  const holder = describeHolder(socks[0]);
  const pm2Name = failed(f.pm2) ? undefined : f.pm2.find((p) => p.port === port)?.name;
  if (pm2Name) {
    return { id: `sockets.pm2.${port}`, status: 'info', message: `pm2 process "${pm2Name}" listens on loopback port ${port}, which the registry does not route to (see drift)` };
  }
  if (SYSTEM_LOOPBACK.some((x) => x.port === port && socks[0].processes.some((p) => x.process.test(p)))) {
    return { id: `sockets.system.${port}`, status: 'pass', message: `${holder} listens on loopback port ${port} (the system's own)` };
  }
  // A deploy probes a new release on a port of the dynamic range before it takes the real one.
  if (port >= PROBE_PORT_MIN && socks.every((s) => s.processes.every((p) => /^(node|PM2)/.test(p)))) {
    return { id: `sockets.transient.${port}`, status: 'info', message: `${holder} listens on loopback port ${port} (dynamic range): most likely a deploy's health probe in progress` };
  }
  return {
    id: `sockets.unregistered.${port}`, status: 'warn',
    message: `port ${port} is held by ${holder} on ${addresses(socks, port)} (loopback only), and no service is registered on it`,
    fix: 'not reachable from outside, but not Portside\'s either: stop it, or deploy it as a service so its port is registered',
  };
}

export const socketsFamily: CheckFamily = {
  name: 'sockets', idPrefix: 'sockets.', run: socketChecks,
  looksAt: 'what listens on the server (ss -ltnp): sshd and Caddy on their ports, each service on loopback only, and nothing else',
};
