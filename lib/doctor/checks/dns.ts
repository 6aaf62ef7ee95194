import { CheckResult, DoctorFacts, failed } from '../types';
import type { CheckFamily } from './family';
import { behindLoadBalancer } from './fleet-mode';

/** Each name Caddy serves resolves to the server, before Caddy spends ACME attempts on it. */
export function dnsChecks(f: DoctorFacts): CheckResult[] {
  if ('skipped' in f.dns) return [{ id: 'dns', status: 'skip', message: f.dns.skipped }];
  if (failed(f.registry)) return [];
  if (behindLoadBalancer(f)) return [{ id: 'dns', status: 'skip', message: 'a fleet server is reached through the load balancer, not at its own address: the names are checked once for the fleet' }];
  return f.dns.map((d): CheckResult => {
    const fix = `create an A record ${d.name} → ${f.address} (with -c hostedZoneId=… the stack manages the records for you)`;
    if (d.addresses.includes(f.address)) {
      const others = d.addresses.filter((a) => a !== f.address);
      return others.length
        ? { id: `dns.${d.name}`, status: 'warn', message: `${d.name} resolves to ${d.addresses.join(', ')}: also to addresses that are not the server`, fix: `remove the records for ${others.join(', ')}` }
        : { id: `dns.${d.name}`, status: 'pass', message: `${d.name} resolves to the server (${f.address})` };
    }
    if (d.addresses.length === 0) return { id: `dns.${d.name}`, status: 'fail', message: `${d.name} does not resolve (${d.error ?? 'no A record'})`, fix };
    return { id: `dns.${d.name}`, status: 'fail', message: `${d.name} resolves to ${d.addresses.join(', ')}, not to the server (${f.address})`, fix };
  });
}

export const dnsFamily: CheckFamily = {
  name: 'dns', idPrefix: 'dns', run: dnsChecks,
  looksAt: 'each name Caddy serves resolves to the server, and only to it',
};
