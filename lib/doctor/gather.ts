import { resolve4 } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { serviceUrl, siteUrl } from '../caddy';
import { contextFromCdkJson, loadConfig } from '../config';
import { parseRegistry, Registry } from '../registry';
import type { SshSession } from '../ssh';
import { readSecurityGroupRules } from './aws-security-group';
import { PACKAGE_ROOT } from '../package-root';
import { SITE_KEY } from './checks';
import { parseSs } from './parse-ss';
import { probeTcp } from './probe-tcp';
import { CapacityFacts, DoctorFacts, DnsAnswer, failed, ListeningSocket, Pm2Process, ServiceFolder, SiteCertificate } from './types';

const REMOTE_SCRIPT = readFileSync(join(PACKAGE_ROOT, 'lib', 'doctor', 'remote-facts.js'), 'utf8');

export interface GatherOptions {
  readonly ssh: SshSession;
  readonly target: DoctorFacts['target'];
  /** The server's public address. */
  readonly address: string;
  /** Where cdk.json is (the declared configuration). */
  readonly cwd: string;
  /** `-c key=value` overrides of cdk.json's context (`portside doctor -c …`). @default - cdk.json as it is */
  readonly context?: Readonly<Record<string, string>>;
  /** Local target: probes leave from this host address; sockets are read as root in the namespace. */
  readonly local?: { readonly probeFrom: string; readonly readSockets: () => string };
  /** AWS: the instance whose security group to read. */
  readonly aws?: { readonly ec2: EC2Client; readonly instanceId: string };
  /** @default node:dns resolve4 */
  readonly resolve?: (name: string) => Promise<string[]>;
  readonly now?: Date;
}

interface ReadFacts {
  registryText: string | null;
  registryHistory?: string[];
  caddyfile: string | null;
  pm2: Pm2Process[] | { error: string };
  folders: ServiceFolder[];
  capacity: CapacityFacts | { error: string };
  sockets: { text: string; privileged: boolean } | { error: string };
}

async function remote<T>(ssh: SshSession, args: string[]): Promise<T> {
  const r = await ssh.exec(['node', '-e', REMOTE_SCRIPT, ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`the doctor's script failed on the server (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout) as T;
}

async function tools(ssh: SshSession): Promise<DoctorFacts['tools']> {
  // A plain exec is exactly a non-interactive session: no ~/.bashrc PATH tricks apply.
  const r = await ssh.exec(['sh', '-c', 'for t in node npm pm2; do printf "%s=%s\\n" "$t" "$(command -v "$t")"; done']);
  const found = Object.fromEntries(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1) || null]));
  return { node: found.node ?? null, npm: found.npm ?? null, pm2: found.pm2 ?? null };
}

/** Read everything the checks need: over SSH (read-only), from outside the server, and from AWS. */
export async function gatherFacts(o: GatherOptions): Promise<DoctorFacts> {
  const now = o.now ?? new Date();
  const toolPaths = await tools(o.ssh);
  const read: ReadFacts = toolPaths.node
    ? await remote<ReadFacts>(o.ssh, ['read']).catch((e: Error) => ({
      registryText: null, caddyfile: null, pm2: { error: e.message }, folders: [], capacity: { error: e.message }, sockets: { error: e.message },
    }))
    : { registryText: null, caddyfile: null, pm2: { error: 'node is not installed' }, folders: [], capacity: { error: 'node is not installed' }, sockets: { error: 'node is not installed' } };

  let registry: Registry | { error: string };
  try {
    registry = read.registryText === null ? { error: 'it does not exist' } : parseRegistry(read.registryText);
  } catch (e) {
    registry = { error: (e as Error).message };
  }
  let declared: DoctorFacts['declared'];
  try {
    declared = loadConfig(contextFromCdkJson(o.cwd, o.context ?? {}));
  } catch (e) {
    declared = { error: (e as Error).message };
  }

  let sockets: ListeningSocket[] | { error: string };
  if (o.local) {
    try {
      sockets = parseSs(o.local.readSockets());
    } catch (e) {
      sockets = { error: (e as Error).message };
    }
  } else {
    sockets = 'text' in read.sockets ? parseSs(read.sockets.text) : { error: read.sockets.error };
  }

  const services = failed(registry) ? {} : registry.services;
  const pm2 = failed(read.pm2) ? [] : read.pm2;
  const ports = new Set<number>([22, 80, 443, 2019, ...Object.values(services), ...pm2.map((p) => p.port).filter((p): p is number => !!p),
    ...(failed(sockets) ? [] : sockets.map((s) => s.port))]);
  const outside = await Promise.all([...ports].sort((a, b) => a - b).map(async (port) => ({
    port, outcome: await probeTcp(o.address, port, { localAddress: o.local?.probeFrom }),
  })));

  let direct: Record<string, number | string> = {};
  let viaCaddy: Record<string, number | string> = {};
  let certificates: SiteCertificate[] = [];
  if (!failed(registry) && toolPaths.node) {
    const reg = registry;
    const deployed = Object.entries(reg.services).filter(([name]) => read.folders.some((d) => d.name === name && d.release) || pm2.some((p) => p.name === name));
    const hosts = reg.domain ? [reg.domain, ...(reg.routing === 'subdomain' ? Object.keys(reg.services).sort().map((n) => `${n}.${reg.domain}`) : [])] : [];
    const request = {
      direct: deployed.map(([name, port]) => ({ name, port, path: read.folders.find((d) => d.name === name)?.healthPath ?? '/' })),
      viaCaddy: [...deployed.map(([name]) => ({ name, url: serviceUrl(reg, name, o.address) })), { name: SITE_KEY, url: siteUrl(reg, o.address) }],
      certificates: hosts,
    };
    const probed = await remote<{ direct: typeof direct; viaCaddy: typeof viaCaddy; certificates: SiteCertificate[] }>(o.ssh, ['probe', JSON.stringify(request)])
      .catch((e: Error) => ({ direct: {}, viaCaddy: {}, certificates: hosts.map((host) => ({ host, error: e.message })) }));
    ({ direct, viaCaddy, certificates } = probed);
  }

  let dns: DoctorFacts['dns'];
  if (o.target === 'local') dns = { skipped: 'the local server\'s domain is in no public DNS (Caddy uses its own CA there): nothing to resolve' };
  else if (failed(registry) || !registry.domain) dns = { skipped: 'no domain: nothing to resolve' };
  else {
    const reg = registry;
    const names = [reg.domain!, ...(reg.routing === 'subdomain' ? Object.keys(reg.services).sort().map((n) => `${n}.${reg.domain}`) : [])];
    const lookup = o.resolve ?? resolve4;
    dns = await Promise.all(names.map(async (name): Promise<DnsAnswer> => {
      try {
        return { name, addresses: await lookup(name) };
      } catch (e) {
        return { name, addresses: [], error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
      }
    }));
  }

  let securityGroup: DoctorFacts['securityGroup'];
  if (o.aws) {
    try {
      securityGroup = await readSecurityGroupRules(o.aws.ec2, o.aws.instanceId);
    } catch (e) {
      securityGroup = { error: (e as Error).message };
    }
  }

  return {
    target: o.target, address: o.address, registryText: read.registryText, registryHistory: read.registryHistory ?? [], registry, caddyfile: read.caddyfile, declared,
    pm2: read.pm2, folders: read.folders, outside, direct, viaCaddy, sockets, certificates, dns, capacity: read.capacity,
    tools: toolPaths, ...(securityGroup !== undefined ? { securityGroup } : {}), now,
  };
}
