import { RESERVED_PORTS, ReservedPort } from '../../ports';
import { HTTP_PORT, HTTPS_PORT, SSH_PORT } from '../../remote/layout';
import { CheckResult, DoctorFacts, ProbeOutcome, failed } from '../types';
import type { CheckFamily } from './family';
import { behindLoadBalancer, LB_TERMINATES_TLS } from './fleet-mode';
import { plainHttpOnly } from './sockets';

/** The ports the model faces outward (SSH for the school, HTTP and HTTPS for the world), by port. */
const OUTWARD = new Map(RESERVED_PORTS.filter((r) => r.exposure !== 'device').map((r) => [r.port, r]));

/**
 * From outside the server, only the ports the model faces outward (22 for the school, 80 and 443 for
 * the world) may accept a connection. Everything else (service ports, Caddy's admin API, stray
 * listeners) must be refused or filtered.
 */
export function exposureChecks(f: DoctorFacts): CheckResult[] {
  const out: CheckResult[] = [];
  for (const [port, r] of OUTWARD) {
    const probe = f.outside.find((p) => p.port === port);
    if (probe) out.push(outwardCheck(f, r, probe.outcome));
  }
  const inward = f.outside.filter((p) => !OUTWARD.has(p.port));
  const leaks = inward.filter((p) => p.outcome === 'open');
  out.push(...leaks.map((p) => leakCheck(f, p.port)));
  if (inward.length > 0 && leaks.length === 0) {
    out.push({ id: 'exposure.closed', status: 'pass', message: `from outside, every other port is closed: ${inward.map((p) => `${p.port} ${p.outcome}`).join(', ')}` });
  }
  return out;
}

/** A port that faces outward must accept connections (HTTPS only once there is a domain). */
function outwardCheck(f: DoctorFacts, r: ReservedPort, outcome: ProbeOutcome): CheckResult {
  const port = r.port;
  const fleet = behindLoadBalancer(f) ? fleetOutwardCheck(f, r, outcome) : null;
  if (fleet) return fleet;
  if (outcome === 'open') {
    return { id: `exposure.open.${port}`, status: 'pass', message: `${f.address}:${port} (${r.protocol}) accepts connections from outside, as it should` };
  }
  if (port === HTTPS_PORT && plainHttpOnly(f)) {
    return { id: `exposure.open.${HTTPS_PORT}`, status: 'info', message: `${f.address}:${HTTPS_PORT} is ${outcome}: without a domain the server serves plain HTTP on ${HTTP_PORT} only`,
      fix: 'set a domain to get HTTPS (see docs/aws.md)' };
  }
  if (port === SSH_PORT) {
    // SSH faces only schoolCidr: closed from here may just mean doctor runs from elsewhere.
    return { id: `exposure.open.${SSH_PORT}`, status: 'warn', message: `${f.address}:${SSH_PORT} (SSH) is ${outcome} from here`,
      fix: 'SSH is open only to schoolCidr: run doctor from inside that network, or check that sshd is running' };
  }
  return { id: `exposure.open.${port}`, status: 'fail', message: `${f.address}:${port} (${r.protocol}) is ${outcome} from outside: the site cannot be reached`,
    fix: port === HTTPS_PORT || port === HTTP_PORT
      ? `check that Caddy is running (systemctl status caddy) and that the security group allows ${HTTP_PORT} and ${HTTPS_PORT} from anywhere`
      : 'check the listener and the security group' };
}

/**
 * A fleet server's 80 and 443 (null: judged as on a single server). 443 should be closed: TLS ends at
 * the load balancer. On AWS, 80 takes only the load balancer's security group, so closed from here is
 * the design; the fleet's own checks ask through the load balancer.
 */
function fleetOutwardCheck(f: DoctorFacts, r: ReservedPort, outcome: ProbeOutcome): CheckResult | null {
  if (r.port === HTTPS_PORT && outcome === 'open') {
    return { id: `exposure.open.${HTTPS_PORT}`, status: 'warn', message: `${f.address}:${HTTPS_PORT} accepts connections, but this server is behind a load balancer: ${LB_TERMINATES_TLS}`,
      fix: 'something serves TLS beside the load balancer: see the sockets checks; `portside caddyfile -c servers=N` shows what Caddy should serve (http:// sites only)' };
  }
  if (r.port === HTTPS_PORT) return { id: `exposure.open.${HTTPS_PORT}`, status: 'pass', message: `${f.address}:${HTTPS_PORT} is ${outcome}, as it should be on a fleet server: ${LB_TERMINATES_TLS}` };
  if (r.port === HTTP_PORT && outcome !== 'open' && f.target === 'aws') {
    return { id: `exposure.open.${HTTP_PORT}`, status: 'info', message: `${f.address}:${HTTP_PORT} is ${outcome} from here: only the load balancer may connect to it (its security group); the fleet checks ask through the load balancer` };
  }
  return null;
}

/** Any other port open from outside: whatever holds it is reachable without Caddy. */
function leakCheck(f: DoctorFacts, port: number): CheckResult {
  const services = failed(f.registry) ? {} : f.registry.services;
  const owner = Object.entries(services).find(([, p]) => p === port)?.[0];
  return {
    id: `exposure.leak.${port}`, status: 'fail',
    message: `${f.address}:${port} accepts connections from outside the server: ${holderOf(f, port)} is reachable without going through Caddy`,
    fix: owner !== undefined
      ? `redeploy it so it runs with Portside's preload, which binds it to 127.0.0.1: portside deploy-service ${owner} --force`
      : `stop that process, or bind it to 127.0.0.1; only ${SSH_PORT}, ${HTTP_PORT} and ${HTTPS_PORT} may face outside`,
  };
}

/** Who holds a port, as the report names it: a service, the server's own program, or a stranger. */
function holderOf(f: DoctorFacts, port: number): string {
  const services = failed(f.registry) ? {} : f.registry.services;
  const svc = Object.entries(services).find(([, p]) => p === port);
  if (svc) return `service "${svc[0]}"`;
  const reserved = RESERVED_PORTS.find((r) => r.port === port);
  if (reserved) return `${reserved.holder} (${reserved.protocol})`;
  const sock = failed(f.sockets) ? undefined : f.sockets.find((s) => s.port === port && s.processes.length > 0);
  return sock ? `${sock.processes.join(', ')} (pid ${sock.pids.join(', ')}), which nobody registered` : 'a process nobody registered';
}

export const exposureFamily: CheckFamily = {
  name: 'exposure', idPrefix: 'exposure.', run: exposureChecks,
  looksAt: 'connections from outside the server: SSH, HTTP and HTTPS accept them, every other port refuses',
};
