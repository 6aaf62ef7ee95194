import { isIP } from 'node:net';
import { homedir } from 'node:os';
// Types only: the AWS SDK costs ~0.5 s to load, and a local or --host deploy never needs it.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { FoundServer } from './aws';
import { join } from 'node:path';
import type { SshTarget } from '../ssh/connection';
import { sameFingerprint } from '../ssh/fingerprint';
import { readPrivateKeyFile } from '../ssh/key-file';
import { forgetHost, readPins } from '../ssh/known-hosts';
import { portsideHome } from '../ssh/paths';
import { DEFAULT_STACK_NAME } from '../stack/server-tag';

export const TARGET_KINDS = ['aws', 'local'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export interface TargetOptions {
  /** `aws` or `local`. @default env.PORTSIDE_TARGET, else `aws` */
  target?: string;
  /** `host` or `host:port` (`[v6]:port`): connect there directly, no lookup. */
  host?: string;
  /** @default `ubuntu` (the local server: its deploy user) */
  user?: string;
  /** Private key file. @default env.PORTSIDE_KEY; for aws, the key pair's key from SSM; for local, the stand-in's key */
  key?: string;
  env: NodeJS.ProcessEnv;
  /** Warnings and notes, one line each. */
  log?: (line: string) => void;
  /** The stack whose server to find (aws). @default env.PORTSIDE_STACK, else DEFAULT_STACK_NAME */
  stackName?: string;
  /** @default env.AWS_REGION / AWS_DEFAULT_REGION, else the SDK's chain */
  region?: string;
  /** Injected clients (tests). @default - new clients for `region` */
  aws?: { ec2?: EC2Client; ssm?: SSMClient };
}

export type ResolvedTarget = SshTarget & {
  kind: 'aws' | 'local' | 'host';
  /** The file the key was read from (a kept connection reads it again itself); absent when it came from elsewhere. */
  privateKeyPath?: string;
};

const DEFAULT_USER = 'ubuntu';

/**
 * Where to SSH, as whom, with which key and which host key to trust:
 * `--host` → there; `local` → the stand-in's state; `aws` → the EC2 instance tagged with the stack name.
 */
export async function resolveTarget(o: TargetOptions): Promise<ResolvedTarget> {
  const kind = o.target ?? o.env.PORTSIDE_TARGET ?? 'aws';
  if (!(TARGET_KINDS as readonly string[]).includes(kind)) {
    const from = o.target !== undefined ? '--target' : 'PORTSIDE_TARGET';
    throw new Error(`${from}: "${kind}" is not a target; use ${TARGET_KINDS.join('|')} (or --host <address> for any server)`);
  }
  const home = portsideHome(o.env);
  if (o.host !== undefined) return resolveHost(o, home);
  return kind === 'local' ? resolveLocal(o, home) : resolveAws(o, home);
}

async function resolveHost(o: TargetOptions, home: string): Promise<ResolvedTarget> {
  const { host, port } = parseHostPort(o.host!);
  const keyPath = o.key ?? o.env.PORTSIDE_KEY;
  if (!keyPath) {
    throw new Error(`--host ${o.host} needs the server's private key: add --key <file> (or set PORTSIDE_KEY)`);
  }
  return {
    kind: 'host', host, port, user: o.user ?? DEFAULT_USER,
    privateKey: await readPrivateKeyFile(keyPath, o.key ? '--key' : 'PORTSIDE_KEY', o.log),
    privateKeyPath: expandHome(keyPath),
    knownHostsPath: join(home, 'known_hosts'),
    label: port === 22 ? host : `${host}:${port}`,
  };
}

async function resolveLocal(o: TargetOptions, home: string): Promise<ResolvedTarget> {
  // Loaded lazily: the local target pulls in process and netns helpers an AWS deploy never needs.
  // require, not import(): tsx runs the CLI as CommonJS, where a dynamic import() goes through ESM resolution.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readLocalServer } = require('./local') as typeof import('./local');
  const server = readLocalServer();
  const knownHostsPath = join(home, 'known_hosts.local');
  // The stand-in's own state is the authority on its host key: after `local down && local up` the key
  // changes legitimately, so a stale pin is replaced instead of tripping the mismatch check.
  const pins = await readPins(knownHostsPath, server.address, server.sshPort);
  if (pins.length > 0 && !pins.some((p) => sameFingerprint(p.fingerprint, server.hostKeyFingerprint))) {
    await forgetHost(knownHostsPath, server.address, server.sshPort);
    o.log?.(`note: the local server was rebuilt; its new host key is ${server.hostKeyFingerprint} (was ${pins[0].fingerprint})`);
  }
  const keyPath = o.key ?? o.env.PORTSIDE_KEY;
  return {
    kind: 'local', host: server.address, port: server.sshPort, user: o.user ?? server.user,
    privateKey: await readPrivateKeyFile(keyPath ?? server.keyPath, keyPath ? (o.key ? '--key' : 'PORTSIDE_KEY') : 'the local server key', o.log),
    privateKeyPath: expandHome(keyPath ?? server.keyPath),
    knownHostsPath,
    expectedFingerprints: [server.hostKeyFingerprint],
    expectedFingerprintsSource: 'the local server\'s state (`npx portside local status`)',
    label: 'the local server',
  };
}

async function resolveAws(o: TargetOptions, home: string): Promise<ResolvedTarget> {
  const sdk = loadAwsModules();
  const region = o.region ?? (o.env.AWS_REGION || o.env.AWS_DEFAULT_REGION || undefined);
  const ec2 = o.aws?.ec2 ?? new sdk.EC2Client(region ? { region } : {});
  const stackName = o.stackName ?? (o.env.PORTSIDE_STACK || DEFAULT_STACK_NAME);
  const server = await sdk.aws.findServer({ stackName, ec2 });
  const label = `EC2 ${server.instanceId} (${stackName}) at ${server.publicIp}`;
  const { privateKey, privateKeyPath } = await awsPrivateKey(o, sdk, { server, label, ec2, region, home });

  // Pinned by instance id: a rebuilt server that inherits the Elastic IP is a new instance and gets a
  // fresh first-contact check against its console, instead of a false alarm (or a silent trust).
  const knownHostsPath = join(home, 'known_hosts');
  const hostKeyAlias = server.instanceId;
  const target: ResolvedTarget = {
    kind: 'aws', host: server.publicIp, port: 22, user: o.user ?? DEFAULT_USER, privateKey, privateKeyPath,
    knownHostsPath, hostKeyAlias, label,
  };
  if ((await readPins(knownHostsPath, hostKeyAlias, 22)).length > 0) return target;
  return withConsoleFingerprints(target, server.instanceId, sdk.aws, ec2, o.log);
}

type AwsModules = ReturnType<typeof loadAwsModules>;

/** Portside's AWS helpers and the SDK clients, loaded here, not at the top: see the type-only imports above. */
function loadAwsModules() {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    aws: require('./aws') as typeof import('./aws'),
    EC2Client: (require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2')).EC2Client,
    SSMClient: (require('@aws-sdk/client-ssm') as typeof import('@aws-sdk/client-ssm')).SSMClient,
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** The key given (--key, PORTSIDE_KEY), else the instance's key pair's key from SSM. */
async function awsPrivateKey(
  o: TargetOptions,
  sdk: AwsModules,
  at: { server: FoundServer; label: string; ec2: EC2Client; region?: string; home: string },
): Promise<{ privateKey: Buffer | string; privateKeyPath: string }> {
  const keyPath = o.key ?? o.env.PORTSIDE_KEY;
  if (keyPath) return { privateKey: await readPrivateKeyFile(keyPath, o.key ? '--key' : 'PORTSIDE_KEY', o.log), privateKeyPath: expandHome(keyPath) };
  if (!at.server.keyName) {
    throw new Error(`${at.label} was launched without an EC2 key pair, so Portside cannot fetch its key: pass --key <private key file>`);
  }
  const ssm = o.aws?.ssm ?? new sdk.SSMClient(at.region ? { region: at.region } : {});
  const fetched = await sdk.aws.fetchPrivateKey({ keyName: at.server.keyName, ec2: at.ec2, ssm, cacheDir: join(at.home, 'keys') });
  return { privateKey: fetched.privateKey, privateKeyPath: fetched.path };
}

/** `~/x` as readPrivateKeyFile reads it, so a keeper started elsewhere reads the same file. */
function expandHome(path: string): string {
  return path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

/** On first contact, expect the host key fingerprints the instance printed to its console (if any yet). */
async function withConsoleFingerprints(
  target: ResolvedTarget, instanceId: string, aws: AwsModules['aws'], ec2: EC2Client, log?: (line: string) => void,
): Promise<ResolvedTarget> {
  let fingerprints: string[] = [];
  try {
    fingerprints = await aws.consoleHostKeyFingerprints({ instanceId, ec2 });
  } catch (e) {
    log?.(`warning: could not read the console output of ${instanceId}: ${(e as Error).message}`);
  }
  if (fingerprints.length === 0) {
    log?.(`warning: the console output of ${instanceId} shows no SSH host key fingerprints yet ` +
      `(it can take a few minutes after boot); trusting the server's key on first use and pinning it in ${target.knownHostsPath}`);
    return target;
  }
  return { ...target, expectedFingerprints: fingerprints, expectedFingerprintsSource: `the console output of ${instanceId}` };
}

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address → host and port (22 when absent). */
export function parseHostPort(value: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  const single = /^([^:[\]]+)(?::(\d+))?$/.exec(value);
  const [host, portText] = bracketed ? [bracketed[1], bracketed[2]]
    : single ? [single[1], single[2]]
    : /^[0-9a-fA-F:.]+$/.test(value) && value.split(':').length > 2 ? [value, undefined] // bare IPv6
    : [undefined, undefined];
  const port = portText === undefined ? 22 : Number(portText);
  // An IP address or a DNS name: anything else (spaces, ";", "$") is a typo or worse, not a host.
  const validHost = !!host && (isIP(host) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(host));
  if (!validHost || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`--host: "${value}" is not an address; use host, host:port or [ipv6]:port (e.g. 203.0.113.7 or 10.0.0.5:2222)`);
  }
  return { host, port };
}
