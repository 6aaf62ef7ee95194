import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { DEFAULT_STACK_NAME, SERVER_TAG_KEY } from '../../stack/server-tag';
import { AWS_BYPASS_HINT, AwsTargetError, explainAwsError } from './aws-errors';

export interface FindServerOptions {
  /** The tag value to look for. @default DEFAULT_STACK_NAME */
  stackName?: string;
  /** @default - the SDK's region chain (AWS_REGION, the profile) */
  region?: string;
  /** @default - a new EC2Client for `region` */
  ec2?: EC2Client;
}

export interface FoundServer {
  instanceId: string;
  publicIp: string;
  /** `running` or `pending` (stopped and stopping instances are reported as errors). */
  state: string;
  /** The EC2 key pair the instance was launched with; undefined when it has none. */
  keyName?: string;
}

/** States of an instance that exists or may come back; `shutting-down` is on its way to `terminated`. */
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

/** Find the one instance tagged `portside:server=<stackName>` and check it can be reached. */
export async function findServer(opts: FindServerOptions = {}): Promise<FoundServer> {
  const stackName = opts.stackName ?? DEFAULT_STACK_NAME;
  const ec2 = opts.ec2 ?? new EC2Client(opts.region ? { region: opts.region } : {});
  const tag = `${SERVER_TAG_KEY}=${stackName}`;
  const instances = await taggedInstances(ec2, stackName, `looking up the EC2 server tagged ${tag}`);
  const region = await regionOf(ec2);
  return reachableServer(onlyInstance(instances, tag, region), tag, region);
}

/** Every live instance tagged with `stackName`, over all pages; AWS errors are explained (thrown). */
async function taggedInstances(ec2: EC2Client, stackName: string, doing: string): Promise<Instance[]> {
  const instances: Instance[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await ec2.send(new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${SERVER_TAG_KEY}`, Values: [stackName] },
          { Name: 'instance-state-name', Values: LIVE_STATES },
        ],
        NextToken: nextToken,
      }));
      for (const r of page.Reservations ?? []) instances.push(...(r.Instances ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
  } catch (e) {
    explainAwsError(e, doing);
  }
  return instances;
}

/** The one instance, or an error saying there is none or naming the extra ones. */
function onlyInstance(instances: Instance[], tag: string, region: string): Instance {
  if (instances.length === 0) {
    throw new AwsTargetError(`no EC2 instance tagged ${tag} in ${region} (terminated ones are ignored). ` +
      `Deploy the stack (\`npx cdk deploy\`), check AWS_REGION/AWS_PROFILE point at it, ${AWS_BYPASS_HINT}.`);
  }
  if (instances.length > 1) {
    const list = instances.map((i) => `${i.InstanceId} (${i.State?.Name})`).join(', ');
    throw new AwsTargetError(`${instances.length} EC2 instances are tagged ${tag} in ${region}: ${list}. ` +
      `Exactly one is expected; terminate the extra ones or give each stack its own name, ${AWS_BYPASS_HINT}.`);
  }
  return instances[0];
}

/** The instance as a FoundServer, or an error when it is stopped or has no public IP to SSH to. */
function reachableServer(i: Instance, tag: string, region: string): FoundServer {
  const instanceId = i.InstanceId ?? '(unknown id)';
  const state = i.State?.Name ?? 'unknown';
  if (state === 'stopped' || state === 'stopping') {
    throw new AwsTargetError(`EC2 instance ${instanceId} (${tag}) is ${state}. ` +
      `Start it with \`aws ec2 start-instances --instance-ids ${instanceId} --region ${region}\` and try again in a minute, ${AWS_BYPASS_HINT}.`);
  }
  if (!i.PublicIpAddress) {
    throw new AwsTargetError(`EC2 instance ${instanceId} (${tag}, ${state}) has no public IP address` +
      `${state === 'pending' ? ' yet; it is still starting, try again in a minute' : '; it must be in a public subnet with a public IP or Elastic IP'}, ` +
      `${AWS_BYPASS_HINT}.`);
  }
  return { instanceId, publicIp: i.PublicIpAddress, state, keyName: i.KeyName };
}

async function regionOf(ec2: EC2Client): Promise<string> {
  try {
    return (await ec2.config.region()) || 'the current region';
  } catch {
    return 'the current region';
  }
}
