import { HTTP_PORT, HTTPS_PORT } from '../../remote/layout';
import { CheckResult, DoctorFacts, failed } from '../types';
import type { CheckFamily } from './family';
import { behindLoadBalancer, LB_TERMINATES_TLS } from './fleet-mode';

const HOUR = 3600_000;

function left(ms: number): string {
  return ms >= 48 * HOUR ? `${Math.floor(ms / (24 * HOUR))} days` : `${Math.max(0, Math.floor(ms / HOUR))} hours`;
}

/**
 * Each site's certificate, as Caddy serves it. Caddy renews when a third of the lifetime is left
 * (30 of 90 days for ACME, 4 of 12 hours for its internal CA), so less than a fifth left means
 * renewals are failing.
 */
export function tlsChecks(f: DoctorFacts): CheckResult[] {
  if (failed(f.registry)) return [];
  if (behindLoadBalancer(f)) return [{ id: 'tls', status: 'skip', message: `a fleet server has no certificate: ${LB_TERMINATES_TLS} (its certificate is checked once for the fleet)` }];
  if (!f.registry.domain) return [{ id: 'tls', status: 'skip', message: 'no domain: the server serves plain HTTP on its address, there is no certificate' }];
  const out: CheckResult[] = [];
  for (const c of f.certificates) {
    const fix = f.registry.tls === 'acme'
      ? `read Caddy's log (journalctl -u caddy) for ACME errors; check that ${c.host} points at ${f.address} (the DNS check) and that port ${HTTP_PORT} and ${HTTPS_PORT} are open to the world`
      : 'read Caddy\'s log; restarting Caddy re-issues internal certificates';
    if (c.error || !c.validTo) {
      out.push({ id: `tls.${c.host}`, status: 'fail', message: `${c.host}: no certificate could be read (${c.error ?? 'none presented'})`, fix });
      continue;
    }
    const to = Date.parse(c.validTo);
    const from = c.validFrom ? Date.parse(c.validFrom) : to - 90 * 24 * HOUR;
    const remaining = to - f.now.getTime();
    const by = c.issuer ? ` from ${c.issuer}` : '';
    if (remaining <= 0) out.push({ id: `tls.${c.host}`, status: 'fail', message: `${c.host}: the certificate${by} expired on ${new Date(to).toISOString()}`, fix });
    else if (remaining < (to - from) / 5) out.push({ id: `tls.${c.host}`, status: 'warn', message: `${c.host}: the certificate${by} expires in ${left(remaining)} and has not been renewed`, fix });
    else out.push({ id: `tls.${c.host}`, status: 'pass', message: `${c.host}: certificate${by} valid for ${left(remaining)} more` });
  }
  return out;
}

export const tlsFamily: CheckFamily = {
  name: 'tls', idPrefix: 'tls', run: tlsChecks,
  looksAt: 'each name\'s certificate as Caddy serves it: present, not expired, renewed in time',
};
