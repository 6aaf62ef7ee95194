/**
 * The doctor for a fleet, pure: every server gets the single server's ten check families (which know a
 * fleet server by its registry's `loadBalancer`), then the fleet's own checks: the store's manifest, a
 * line per server (address, health check answer, release of each service), whether every server runs
 * one release of each service (the manifest's), and the load balancer as users meet it.
 */
import { HEALTH_PATH } from '../../remote/layout';
import { runChecks } from '../checks';
import { LB_HEALTH_KEY } from '../probe-plan';
import { CheckResult, DoctorFacts, failed, HttpOutcome, SiteCertificate } from '../types';
import type { FleetFacts, FleetMemberFacts, FleetReport, LoadBalancerFacts } from './types';

const HOUR = 3600_000;
const show = (r: HttpOutcome | undefined): string => (r === undefined ? 'not asked' : typeof r === 'number' ? `HTTP ${r}` : r);
/** `s1` of `s1 (10.77.1.11)`: the part of a server's label that goes into a check id. */
const serverId = (label: string): string => label.split(' ')[0];

/** Each server's own checks, then the fleet's. */
export function diagnoseFleet(ff: FleetFacts): FleetReport {
  return {
    servers: ff.servers.map((s) => ({
      server: s.label, address: s.address,
      results: failed(s.facts)
        ? [{ id: 'ssh', status: 'fail' as const, message: `cannot read ${s.label}: ${s.facts.error}`, fix: 'every other check of this server needs SSH; fix this first' }]
        : runChecks(s.facts),
    })),
    fleet: fleetChecks(ff),
  };
}

/** The fleet's own checks, in report order. */
export function fleetChecks(ff: FleetFacts): CheckResult[] {
  return [manifestCheck(ff), ...ff.servers.flatMap((s) => serverChecks(ff, s)), ...releaseChecks(ff), ...loadBalancerChecks(ff), ...dnsChecks(ff)];
}

/**
 * Each served name resolves, and never to a server's own address: the stack's records are aliases to the
 * load balancer, so a server's address there is a hand-made record that bypasses it (and dies with the server).
 */
function dnsChecks(ff: FleetFacts): CheckResult[] {
  if ('skipped' in ff.dns) return [{ id: 'fleet.dns', status: 'skip', message: ff.dns.skipped }];
  const servers = new Map(ff.servers.map((s) => [s.address, serverId(s.label)]));
  return ff.dns.map((d): CheckResult => {
    const id = `fleet.dns.${d.name}`;
    const fix = `the stack writes ${d.name} as an alias to the load balancer (-c hostedZoneId=…): remove hand-made records for it and run npx cdk deploy`;
    if (d.addresses.length === 0) return { id, status: 'fail', message: `${d.name} does not resolve (${d.error ?? 'no A record'})`, fix };
    const direct = d.addresses.filter((a) => servers.has(a));
    if (direct.length) return { id, status: 'fail', message: `${d.name} resolves to ${direct.map((a) => `${servers.get(a)} (${a})`).join(', ')}: requests reach that server without the load balancer`, fix };
    return { id, status: 'pass', message: `${d.name} resolves to ${d.addresses.join(', ')} (the load balancer's, no server's)` };
  });
}

/** How a user moves the fleet, in fixes: the local fleet needs its flags; an AWS fleet is named by the stack. */
const fleetFlags = (ff: FleetFacts): string => (ff.kind === 'local' ? ' --target local --fleet' : '');

function manifestCheck(ff: FleetFacts): CheckResult {
  const m = ff.manifest;
  if (m === null) return { id: 'fleet.manifest', status: 'info', message: 'the store has no manifest yet: nothing was rolled out to the fleet, so a new server has nothing to converge to' };
  if (failed(m)) {
    return { id: 'fleet.manifest', status: 'fail', message: `could not read the store's manifest: ${m.error}`,
      fix: ff.kind === 'local' ? 'portside local up --servers N repairs the store (it is in memory: a restarted store is empty until the next rollout)'
        : 'check the bucket (output ReleasesBucketName) and that your credentials may s3:GetObject in it' };
  }
  const services = Object.entries(m.services).map(([n, e]) => `${n} ${e.releaseId}`).join(', ') || 'no services';
  return { id: 'fleet.manifest', status: 'pass', message: `the store's manifest (${m.updatedAt}): ${services}${m.static ? `; site ${m.static.releaseId ?? m.static.release.slice(0, 12)}` : ''}` };
}

/** One server as the fleet sees it: its health check answer and its releases; and that it is a fleet server. */
function serverChecks(ff: FleetFacts, s: FleetMemberFacts): CheckResult[] {
  const id = `fleet.server.${serverId(s.label)}`;
  if (failed(s.facts)) return [{ id, status: 'fail', message: `${s.label} could not be read (${s.facts.error})`, fix: 'see its own checks above; the load balancer goes on asking its health check' }];
  const f = s.facts;
  const out: CheckResult[] = [];
  if (!failed(f.registry) && !f.registry.loadBalancer) {
    out.push({ id: `fleet.lb-mode.${serverId(s.label)}`, status: 'fail', message: `${s.label}'s registry has no loadBalancer: its Caddyfile serves HTTPS, which the load balancer does not speak to it`,
      fix: `a fleet server's first registry sets it (the stack's seed, local up --servers N); restore it from ~/.portside/registry.history or rebuild the server` });
  }
  const health = f.viaCaddy[LB_HEALTH_KEY];
  const line = `${s.label}: GET ${HEALTH_PATH} answers ${show(health)}; ${releasesOf(f)}`;
  if (health === 200) out.push({ id, status: 'pass', message: `${line} (converged: in the load balancer's rotation)` });
  else if (health === 503) {
    out.push({ id, status: 'fail', message: `${line}: not converged, so the load balancer sends it nothing${ff.kind === 'aws' ? ' (and the Auto Scaling group replaces it after ~20 s of failed checks past its grace period)' : ''}`,
      fix: `the release lines below say which service is behind; a rollout converges every server (portside deploy-service <name> --force${fleetFlags(ff)})` });
  } else out.push({ id, status: 'fail', message: `${line}: Caddy does not answer the load balancer's health check`, fix: 'see this server\'s sockets and drift checks above (is Caddy running, is its Caddyfile the registry\'s?)' });
  return out;
}

/** `simon r1, startup r2`: the release of each registered service on a server. */
function releasesOf(f: DoctorFacts): string {
  if (failed(f.registry)) return 'registry unreadable';
  const names = Object.keys(f.registry.services).sort();
  if (names.length === 0) return 'no services';
  return names.map((n) => `${n} ${f.folders.find((d) => d.name === n)?.release ?? 'not deployed'}`).join(', ');
}

/** The release of `name` on each readable server (null: not deployed there). */
function releasesByServer(ff: FleetFacts, name: string): Array<{ server: string; release: string | null }> {
  return ff.servers.filter((s) => !failed(s.facts)).map((s) => {
    const f = s.facts as DoctorFacts;
    const registered = !failed(f.registry) && f.registry.services[name] !== undefined;
    return { server: serverId(s.label), release: registered ? f.folders.find((d) => d.name === name)?.release ?? null : null };
  });
}

/** Every service the manifest or any server has: one release on every server, the manifest's. */
function releaseChecks(ff: FleetFacts): CheckResult[] {
  const manifest = ff.manifest === null || failed(ff.manifest) ? null : ff.manifest;
  const names = new Set(Object.keys(manifest?.services ?? {}));
  for (const s of ff.servers) if (!failed(s.facts) && !failed(s.facts.registry)) for (const n of Object.keys(s.facts.registry.services)) names.add(n);
  return [...names].sort().map((name) => {
    const on = releasesByServer(ff, name);
    const wanted = manifest?.services[name]?.releaseId;
    const releases = new Set(on.map((o) => o.release));
    if (releases.size === 1 && !releases.has(null) && (manifest === null || [...releases][0] === wanted)) {
      return { id: `fleet.release.${name}`, status: 'pass', message: `${name}: every server runs ${[...releases][0]}${wanted ? ', the manifest\'s release' : ''}` };
    }
    const where = on.map((o) => `${o.server} ${o.release ?? 'none'}`).join(', ');
    const says = manifest === null ? 'no manifest' : wanted ? `the manifest says ${wanted}` : 'the manifest does not name it';
    return {
      id: `fleet.release.${name}`, status: 'fail', message: `${name}: the fleet disagrees (${where}; ${says}): the load balancer sends each request to any one of them`,
      fix: wanted ? `roll every server onto one release: portside deploy-service ${name} --force${fleetFlags(ff)} (or portside rollback ${name} --to ${wanted}${fleetFlags(ff)})`
        : `it was put on some servers outside a rollout: deploy it to the fleet (portside deploy-service ${name}${fleetFlags(ff)}) or remove it (portside remove-service ${name}${fleetFlags(ff)})`,
    };
  });
}

/** The load balancer: the site answers through it, and each name's certificate is valid and renewed. */
function loadBalancerChecks(ff: FleetFacts): CheckResult[] {
  const lb = ff.loadBalancer;
  if (failed(lb)) return [{ id: 'fleet.lb', status: 'fail', message: `could not reach the load balancer: ${lb.error}`, fix: ff.kind === 'local' ? 'portside local status --fleet; local up --servers N repairs it' : 'check the stack\'s LoadBalancerDnsName output and the domain\'s records' }];
  const { url, outcome } = lb.site;
  const site: CheckResult = typeof outcome === 'number' && outcome < 400
    ? { id: 'fleet.lb.site', status: 'pass', message: `${url} answers through the load balancer at ${lb.address} (HTTP ${outcome})` }
    : { id: 'fleet.lb.site', status: 'fail', message: `${url} does not answer through the load balancer at ${lb.address} (${show(outcome)})`, fix: 'see the servers\' health lines above: the load balancer sends requests only to servers that answer 200' };
  return [site, ...lb.certificates.map((c) => certificateCheck(ff, lb, c))];
}

/** A certificate the load balancer serves: present, not expired, more than a fifth of its lifetime left. */
function certificateCheck(ff: FleetFacts, lb: LoadBalancerFacts, c: SiteCertificate): CheckResult {
  const id = `fleet.lb.tls.${c.host}`;
  const fix = ff.kind === 'local' ? 'the local load balancer issues its own certificates: portside local up --servers N restarts it'
    : 'ACM renews a DNS-validated certificate while its validation CNAME stays in the hosted zone: check the record and the certificate in the ACM console';
  if (c.error || !c.validTo) return { id, status: 'fail', message: `${c.host}: the load balancer at ${lb.address} presents no certificate (${c.error ?? 'none'})`, fix };
  const to = Date.parse(c.validTo);
  const from = c.validFrom ? Date.parse(c.validFrom) : to - 90 * 24 * HOUR;
  const left = to - ff.now.getTime();
  const by = c.issuer ? ` from ${c.issuer}` : '';
  const days = left >= 48 * HOUR ? `${Math.floor(left / (24 * HOUR))} days` : `${Math.max(0, Math.floor(left / HOUR))} hours`;
  if (left <= 0) return { id, status: 'fail', message: `${c.host}: the load balancer's certificate${by} expired on ${new Date(to).toISOString()}`, fix };
  if (left < (to - from) / 5) return { id, status: 'warn', message: `${c.host}: the load balancer's certificate${by} expires in ${days} and has not been renewed`, fix };
  return { id, status: 'pass', message: `${c.host}: the load balancer's certificate${by} is valid for ${days} more` };
}
