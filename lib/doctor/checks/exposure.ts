import { RESERVED_PORTS } from '../../ports';
import { CheckResult, DoctorFacts, failed } from '../types';
import { plainHttpOnly } from './sockets';

/**
 * From outside the server, only the ports the model faces outward (22 for the school, 80 and 443 for
 * the world) may accept a connection. Everything else (service ports, Caddy's admin API, stray
 * listeners) must be refused or filtered.
 */
export function exposureChecks(f: DoctorFacts): CheckResult[] {
  const out: CheckResult[] = [];
  const outward = new Map(RESERVED_PORTS.filter((r) => r.exposure !== 'device').map((r) => [r.port, r]));
  const services = failed(f.registry) ? {} : f.registry.services;
  const holderOf = (port: number): string => {
    const svc = Object.entries(services).find(([, p]) => p === port);
    if (svc) return `service "${svc[0]}"`;
    const reserved = RESERVED_PORTS.find((r) => r.port === port);
    if (reserved) return `${reserved.holder} (${reserved.protocol})`;
    const sock = failed(f.sockets) ? undefined : f.sockets.find((s) => s.port === port && s.processes.length > 0);
    return sock ? `${sock.processes.join(', ')} (pid ${sock.pids.join(', ')}), which nobody registered` : 'a process nobody registered';
  };

  for (const [port, r] of outward) {
    const probe = f.outside.find((p) => p.port === port);
    if (!probe) continue;
    if (probe.outcome === 'open') {
      out.push({ id: `exposure.open.${port}`, status: 'pass', message: `${f.address}:${port} (${r.protocol}) accepts connections from outside, as it should` });
    } else if (port === 443 && plainHttpOnly(f)) {
      out.push({ id: 'exposure.open.443', status: 'info', message: `${f.address}:443 is ${probe.outcome}: without a domain the server serves plain HTTP on 80 only`,
        fix: 'set a domain to get HTTPS (see docs/aws.md)' });
    } else if (port === 22) {
      out.push({ id: 'exposure.open.22', status: 'warn', message: `${f.address}:22 (SSH) is ${probe.outcome} from here`,
        fix: 'SSH is open only to schoolCidr: run doctor from inside that network, or check that sshd is running' });
    } else {
      out.push({ id: `exposure.open.${port}`, status: 'fail', message: `${f.address}:${port} (${r.protocol}) is ${probe.outcome} from outside: the site cannot be reached`,
        fix: port === 443 || port === 80 ? 'check that Caddy is running (systemctl status caddy) and that the security group allows 80 and 443 from anywhere' : 'check the listener and the security group' });
    }
  }

  const inward = f.outside.filter((p) => !outward.has(p.port));
  const leaks = inward.filter((p) => p.outcome === 'open');
  for (const p of leaks) {
    out.push({
      id: `exposure.leak.${p.port}`, status: 'fail',
      message: `${f.address}:${p.port} accepts connections from outside the server: ${holderOf(p.port)} is reachable without going through Caddy`,
      fix: Object.values(services).includes(p.port)
        ? `redeploy it so it runs with Portside's preload, which binds it to 127.0.0.1: portside deploy-service ${Object.entries(services).find(([, q]) => q === p.port)![0]} --force`
        : `stop that process, or bind it to 127.0.0.1; only 22, 80 and 443 may face outside`,
    });
  }
  if (inward.length > 0 && leaks.length === 0) {
    out.push({ id: 'exposure.closed', status: 'pass', message: `from outside, every other port is closed: ${inward.map((p) => `${p.port} ${p.outcome}`).join(', ')}` });
  }
  return out;
}
