/**
 * A fleet on AWS as the CLI needs it: every running instance tagged `portside:fleet=<stack>` (the Auto
 * Scaling group propagates the tag at launch), each reached over SSH at its public IP and pinned by its
 * instance id; the release store's bucket as the servers themselves know it (/etc/default/portside, written
 * at boot from the stack); env files in SSM under /portside/<stack>. Loaded only for `--target aws --fleet`.
 */
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { join } from 'node:path';
import { UserError } from '../errors';
import { openSsh } from '../ssh';
import { readPrivateKeyFile } from '../ssh/key-file';
import { portsideHome } from '../ssh/paths';
import { DEFAULT_STACK_NAME, FLEET_TAG_KEY } from '../stack/server-tag';
import { fetchPrivateKey } from '../targets/aws';
import type { Fleet, FleetServer } from './fleet-target';

/** A running fleet instance. */
export interface FleetInstance {
  readonly instanceId: string;
  readonly publicIp: string;
  readonly keyName?: string;
}

/** Every running instance tagged `portside:fleet=<stackName>` that has a public IP, in launch order. */
export async function fleetInstances(ec2: EC2Client, stackName: string): Promise<FleetInstance[]> {
  const found: Instance[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(new DescribeInstancesCommand({
      Filters: [{ Name: `tag:${FLEET_TAG_KEY}`, Values: [stackName] }, { Name: 'instance-state-name', Values: ['running'] }],
      NextToken: token,
    }));
    for (const r of page.Reservations ?? []) found.push(...(r.Instances ?? []));
    token = page.NextToken;
  } while (token);
  return found
    .filter((i) => i.InstanceId && i.PublicIpAddress)
    .sort((a, b) => (a.LaunchTime?.getTime() ?? 0) - (b.LaunchTime?.getTime() ?? 0) || a.InstanceId!.localeCompare(b.InstanceId!))
    .map((i) => ({ instanceId: i.InstanceId!, publicIp: i.PublicIpAddress!, keyName: i.KeyName }));
}

/** The AWS fleet of `PORTSIDE_STACK` (default Portside); an error saying how to make one when none runs. */
export async function awsFleet(o: { env: NodeJS.ProcessEnv; key?: string; user?: string; log?: (line: string) => void; ec2?: EC2Client }): Promise<Fleet> {
  const region = o.env.AWS_REGION || o.env.AWS_DEFAULT_REGION || undefined;
  const ec2 = o.ec2 ?? new EC2Client(region ? { region } : {});
  const stackName = o.env.PORTSIDE_STACK || DEFAULT_STACK_NAME;
  const discover = async (): Promise<FleetServer[]> => {
    const servers: FleetServer[] = [];
    for (const i of await fleetInstances(ec2, stackName)) servers.push(await instanceTarget(i, ec2, o));
    return servers;
  };
  const servers = await discover();
  if (servers.length === 0) {
    throw new UserError(`no running EC2 instance is tagged ${FLEET_TAG_KEY}=${stackName}`, 'A fleet is a stack deployed with -c servers=N (N >= 2): npx cdk deploy -c servers=2; check AWS_REGION/AWS_PROFILE and PORTSIDE_STACK.');
  }
  const resolvedRegion = (await ec2.config.region()) || region;
  return {
    kind: 'aws', servers, address: servers[0].target.host, discover,
    store: { bucket: await bucketOf(servers[0]), region: resolvedRegion },
    secrets: { stackName, region: resolvedRegion },
  };
}

/** An instance as an SSH target: its key pair's key (or --key), pinned under its instance id. */
async function instanceTarget(i: FleetInstance, ec2: EC2Client, o: { env: NodeJS.ProcessEnv; key?: string; user?: string; log?: (line: string) => void }): Promise<FleetServer> {
  const home = portsideHome(o.env);
  const keyPath = o.key ?? o.env.PORTSIDE_KEY;
  if (!keyPath && !i.keyName) throw new UserError(`fleet instance ${i.instanceId} was launched without an EC2 key pair: pass --key <private key file>`);
  const privateKey = keyPath
    ? await readPrivateKeyFile(keyPath, o.key ? '--key' : 'PORTSIDE_KEY', o.log)
    // The key pair's private key is a parameter in the EC2 client's region, which may have come from
    // AWS_DEFAULT_REGION: an SSMClient left to the SDK's own chain would not see that variable (it reads
    // AWS_REGION, then the shared config, https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/setting-region.html).
    // The single server's lookup does the same (resolve-target.ts).
    : (await fetchPrivateKey({ keyName: i.keyName!, ec2, ssm: new SSMClient({ region: await ec2.config.region() }), cacheDir: join(home, 'keys') })).privateKey;
  const label = `${i.instanceId} (${i.publicIp})`;
  return {
    label,
    target: { host: i.publicIp, port: 22, user: o.user ?? 'ubuntu', privateKey, knownHostsPath: join(home, 'known_hosts'), hostKeyAlias: i.instanceId, label: `fleet server ${label}` },
  };
}

/** The release store's bucket, as the server's boot wrote it to /etc/default/portside. */
async function bucketOf(s: FleetServer): Promise<string> {
  const ssh = await openSsh(s.target);
  try {
    const r = await ssh.exec(['sh', '-c', '. /etc/default/portside && printf %s "$PORTSIDE_STORE_BUCKET"']);
    const bucket = r.stdout.trim();
    if (r.code !== 0 || !bucket) throw new UserError(`${s.label} does not name its release store (PORTSIDE_STORE_BUCKET in /etc/default/portside)`, 'Is it a fleet server of a stack deployed with -c servers=N? Its boot writes that file.');
    return bucket;
  } finally {
    await ssh.close().catch(() => {});
  }
}
