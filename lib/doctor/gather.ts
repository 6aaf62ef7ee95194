import { resolve4 } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { contextFromCdkJson, loadConfig } from '../config';
import { DIST_DIR } from '../package-root';
import { parseRegistry, Registry } from '../registry';
import { serverToolsCommand, withServerNode } from '../remote/server-node';
import type { SshSession } from '../ssh';
import { readSecurityGroupRules } from './aws-security-group';
import { parseSs } from './parse-ss';
import { portsToProbe, probeRequest, servedNames } from './probe-plan';
import { probeTcp } from './probe-tcp';
import type { ProbeAnswers, RemoteMode, RemoteRead } from './remote/messages';
import { DoctorFacts, DnsAnswer, failed, ListeningSocket, Pm2Process } from './types';

/** The read-only facts script run on the server: `npm run build` bundles it from lib/doctor/remote. */
export const REMOTE_FACTS_SCRIPT = join(DIST_DIR, 'doctor', 'remote-facts.js');

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
  /** One server of a fleet: also ask it the load balancer's health check. @default false */
  readonly fleetMember?: boolean;
  /** @default node:dns resolve4 */
  readonly resolve?: (name: string) => Promise<string[]>;
  readonly now?: Date;
}

/** Read everything the checks need: over SSH (read-only), from outside the server, and from AWS. */
export async function gatherFacts(o: GatherOptions): Promise<DoctorFacts> {
  const script = readRemoteScript();
  const now = o.now ?? new Date();
  const tools = await readTools(o.ssh);
  const read = tools.node ? await readServer(o.ssh, script) : unread('node is not installed');
  const registry = registryOf(read.registryText);
  const declared = declaredConfig(o.cwd, o.context);
  const sockets = listeningSockets(o, read);
  const pm2 = failed(read.pm2) ? [] : read.pm2;
  const ports = portsToProbe(failed(registry) ? {} : registry.services, pm2, failed(sockets) ? [] : sockets);
  const outside = await Promise.all(ports.map(async (port) => ({ port, outcome: await probeTcp(o.address, port, { localAddress: o.local?.probeFrom }) })));
  const probed = !failed(registry) && tools.node ? await probeOnServer(o, script, registry, read, pm2) : { direct: {}, viaCaddy: {}, certificates: [] };
  const dns = await resolveNames(o, registry);
  const securityGroup = o.aws ? await readSecurityGroup(o.aws) : undefined;
  return {
    target: o.target, address: o.address, registryText: read.registryText, registryHistory: read.registryHistory ?? [], registry, caddyfile: read.caddyfile, declared,
    pm2: read.pm2, folders: read.folders, outside, ...probed, sockets, dns, capacity: read.capacity,
    tools, ...(securityGroup !== undefined ? { securityGroup } : {}), now,
  };
}

/** The facts script's text; without a build there is none, and doctor says how to make it. */
function readRemoteScript(): string {
  try {
    return readFileSync(REMOTE_FACTS_SCRIPT, 'utf8');
  } catch (e) {
    throw new Error(`doctor's server script ${REMOTE_FACTS_SCRIPT} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): `
      + 'it is built from lib/doctor/remote; run npm run build');
  }
}

/** Run the facts script on the server in one mode; it prints one JSON document. */
async function remote<T>(ssh: SshSession, script: string, mode: RemoteMode, arg?: string): Promise<T> {
  const r = await ssh.exec(withServerNode(['-e', script, mode, ...(arg === undefined ? [] : [arg])]), { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`the doctor's script failed on the server (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout) as T;
}

async function readTools(ssh: SshSession): Promise<DoctorFacts['tools']> {
  // A plain exec is exactly a non-interactive session (no ~/.bashrc PATH tricks apply), plus the Node
  // Portside records on an adopted server: the tools as a deploy finds them.
  const r = await ssh.exec(serverToolsCommand());
  const found = Object.fromEntries(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1) || null]));
  return { node: found.node ?? null, npm: found.npm ?? null, pm2: found.pm2 ?? null };
}

/** What could not be read, with why, in every field that needs the script. */
const unread = (error: string): RemoteRead => ({
  registryText: null, caddyfile: null, pm2: { error }, folders: [], capacity: { error }, sockets: { error },
});

async function readServer(ssh: SshSession, script: string): Promise<RemoteRead> {
  return remote<RemoteRead>(ssh, script, 'read').catch((e: Error) => unread(e.message));
}

function registryOf(text: string | null): Registry | { error: string } {
  if (text === null) return { error: 'it does not exist' };
  try {
    return parseRegistry(text);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function declaredConfig(cwd: string, context: Readonly<Record<string, string>> = {}): DoctorFacts['declared'] {
  try {
    return loadConfig(contextFromCdkJson(cwd, context));
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** On the local target sockets are read as root in the namespace (every owner shown); elsewhere by the script. */
function listeningSockets(o: GatherOptions, read: RemoteRead): ListeningSocket[] | { error: string } {
  if (!o.local) return 'text' in read.sockets ? parseSs(read.sockets.text) : { error: read.sockets.error };
  try {
    return parseSs(o.local.readSockets());
  } catch (e) {
    return { error: (e as Error).message };
  }
}

async function probeOnServer(o: GatherOptions, script: string, reg: Registry, read: RemoteRead, pm2: readonly Pm2Process[]): Promise<ProbeAnswers> {
  const request = probeRequest(reg, read.folders, pm2, o.address, o.fleetMember);
  return remote<ProbeAnswers>(o.ssh, script, 'probe', JSON.stringify(request))
    .catch((e: Error) => ({ direct: {}, viaCaddy: {}, certificates: request.certificates.map((host) => ({ host, error: e.message })) }));
}

async function resolveNames(o: GatherOptions, registry: Registry | { error: string }): Promise<DoctorFacts['dns']> {
  if (o.target === 'local') return { skipped: 'the local server\'s domain is in no public DNS (Caddy uses its own CA there): nothing to resolve' };
  if (failed(registry) || !registry.domain) return { skipped: 'no domain: nothing to resolve' };
  const lookup = o.resolve ?? resolve4;
  return Promise.all(servedNames(registry).map(async (name): Promise<DnsAnswer> => {
    try {
      return { name, addresses: await lookup(name) };
    } catch (e) {
      return { name, addresses: [], error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
    }
  }));
}

async function readSecurityGroup(aws: NonNullable<GatherOptions['aws']>): Promise<DoctorFacts['securityGroup']> {
  try {
    return await readSecurityGroupRules(aws.ec2, aws.instanceId);
  } catch (e) {
    return { error: (e as Error).message };
  }
}
