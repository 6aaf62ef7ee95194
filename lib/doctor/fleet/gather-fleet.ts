/**
 * Read a fleet for the doctor: each server exactly as the single server is read (gatherFacts over its own
 * SSH session, in parallel), the store's manifest, and the load balancer from outside (its certificates
 * and the site through it). Read-only, like the single server's doctor.
 */
import { resolve4 } from 'node:dns/promises';
import https from 'node:https';
import tls from 'node:tls';
import { ReleaseStore, storeClient, type StoreLocation } from '../../fleet/release-store';
import { HTTPS_PORT } from '../../remote/layout';
import { openSsh } from '../../ssh';
import type { SshTarget } from '../../ssh/connection';
import { gatherFacts, GatherOptions } from '../gather';
import { servedNames } from '../probe-plan';
import { DnsAnswer, DoctorFacts, failed, HttpOutcome, SiteCertificate } from '../types';
import type { FleetFacts, FleetMemberFacts, LoadBalancerFacts } from './types';

/** One server to read: how to reach it, and the per-target extras the single server's doctor takes. */
export interface FleetGatherServer {
  readonly label: string;
  readonly address: string;
  readonly target: SshTarget;
  /** The local fleet: probes leave from the bridge, sockets are read as root in the server's namespace. @default - from the script, as the deploy user */
  readonly local?: GatherOptions['local'];
  /** AWS: the instance whose security group to read. @default - not read */
  readonly aws?: GatherOptions['aws'];
}

export interface FleetGatherOptions {
  readonly kind: FleetFacts['kind'];
  readonly servers: readonly FleetGatherServer[];
  readonly store: StoreLocation;
  /** Where to reach the load balancer over HTTPS, the apex domain, and the CA to verify it with. @default ca - the system's */
  readonly loadBalancer: { readonly address: string; readonly domain: string; readonly ca?: Buffer };
  /** Where cdk.json is. */
  readonly cwd: string;
  readonly context?: Readonly<Record<string, string>>;
  readonly now?: Date;
  /** @default node:dns resolve4 */
  readonly resolve?: (name: string) => Promise<string[]>;
}

/** Everything the fleet checks need. */
export async function gatherFleetFacts(o: FleetGatherOptions): Promise<FleetFacts> {
  const now = o.now ?? new Date();
  const [servers, manifest] = await Promise.all([Promise.all(o.servers.map((s) => readMember(o, s, now))), readManifest(o.store)]);
  const names = namesOf(servers, o.loadBalancer.domain);
  const [loadBalancer, dns] = await Promise.all([readLoadBalancer(o.loadBalancer, names), resolveNames(o, names)]);
  return { kind: o.kind, servers, manifest, loadBalancer, dns, now };
}

/** AWS: what each name resolves to publicly. The local fleet's domain is in no public DNS. */
async function resolveNames(o: FleetGatherOptions, names: readonly string[]): Promise<FleetFacts['dns']> {
  if (o.kind === 'local') return { skipped: 'the local fleet\'s domain is in no public DNS: the load balancer is reached at its address' };
  const lookup = o.resolve ?? resolve4;
  return Promise.all(names.map(async (name): Promise<DnsAnswer> => {
    try {
      return { name, addresses: await lookup(name) };
    } catch (e) {
      return { name, addresses: [], error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
    }
  }));
}

async function readMember(o: FleetGatherOptions, s: FleetGatherServer, now: Date): Promise<FleetMemberFacts> {
  let ssh;
  try {
    ssh = await openSsh(s.target);
  } catch (e) {
    return { label: s.label, address: s.address, facts: { error: `cannot open SSH: ${(e as Error).message}` } };
  }
  try {
    const facts = await gatherFacts({ ssh, target: o.kind, address: s.address, cwd: o.cwd, context: o.context, local: s.local, aws: s.aws, now, fleetMember: true });
    return { label: s.label, address: s.address, facts };
  } catch (e) {
    return { label: s.label, address: s.address, facts: { error: (e as Error).message } };
  } finally {
    await ssh.close().catch(() => {});
  }
}

async function readManifest(store: StoreLocation): Promise<FleetFacts['manifest']> {
  try {
    const m = await new ReleaseStore(storeClient(store), store.bucket).readManifest();
    return m.exists ? m.manifest : null;
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The names the load balancer should hold a certificate for: the servers' served names (the apex at least). */
function namesOf(servers: readonly FleetMemberFacts[], domain: string): string[] {
  const names = new Set<string>([domain]);
  for (const s of servers) {
    const f = s.facts as DoctorFacts;
    if (!failed(s.facts) && !failed(f.registry)) for (const n of servedNames({ ...f.registry, domain: f.registry.domain ?? domain })) names.add(n);
  }
  return [...names];
}

async function readLoadBalancer(lb: FleetGatherOptions['loadBalancer'], names: readonly string[]): Promise<LoadBalancerFacts> {
  const url = `https://${lb.domain}/`;
  const [certificates, outcome] = await Promise.all([Promise.all(names.map((n) => certificateAt(lb.address, n))), getVerified(lb.address, lb.domain, lb.ca)]);
  return { address: lb.address, certificates, site: { url, outcome } };
}

/** The certificate served for `name` at `address` (read, not verified: expiry is the check's job). */
function certificateAt(address: string, name: string): Promise<SiteCertificate> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: address, port: HTTPS_PORT, servername: name, rejectUnauthorized: false, timeout: 5000 }, () => {
      const c = socket.getPeerCertificate();
      socket.destroy();
      if (!c || !c.valid_to) return resolve({ host: name, error: 'no certificate presented' });
      const issuer = (c.issuer?.CN || c.issuer?.O) as string | undefined;
      resolve({ host: name, validFrom: new Date(c.valid_from).toISOString(), validTo: new Date(c.valid_to).toISOString(), ...(issuer ? { issuer } : {}) });
    });
    socket.on('timeout', () => { socket.destroy(); resolve({ host: name, error: 'timeout' }); });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve({ host: name, error: e.code || e.message }));
  });
}

/** GET https://<domain>/ at `address`, verified against `ca` (or the system's CAs): the status or the error. */
function getVerified(address: string, domain: string, ca?: Buffer): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const req = https.get({
      host: address, port: HTTPS_PORT, path: '/', servername: domain, headers: { host: domain, 'user-agent': 'portside-doctor' },
      ...(ca ? { ca } : {}), timeout: 9000, agent: false,
    }, (res) => {
      res.resume();
      resolve(res.statusCode as number);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code || e.message));
  });
}
