import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client, type IpPermission } from '@aws-sdk/client-ec2';
import { SecurityGroupRule } from './types';

/** Every ingress permission of the instance's security groups, one rule per peer. */
export async function readSecurityGroupRules(ec2: EC2Client, instanceId: string): Promise<SecurityGroupRule[]> {
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = described.Reservations?.[0]?.Instances?.[0];
  const groupIds = (instance?.SecurityGroups ?? []).map((g) => g.GroupId).filter((g): g is string => !!g);
  if (groupIds.length === 0) return [];
  const groups = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groupIds }));
  return (groups.SecurityGroups ?? []).flatMap((g) => (g.IpPermissions ?? []).flatMap((p) => flatten(g.GroupId ?? '?', p)));
}

export function flatten(groupId: string, p: IpPermission): SecurityGroupRule[] {
  const base = { groupId, protocol: p.IpProtocol ?? '-1', fromPort: p.FromPort ?? null, toPort: p.ToPort ?? null };
  const all = p.IpProtocol === '-1';
  const rule = (peer: string): SecurityGroupRule => (all ? { ...base, fromPort: null, toPort: null, peer } : { ...base, peer });
  return [
    ...(p.IpRanges ?? []).map((r) => rule(r.CidrIp ?? '?')),
    ...(p.Ipv6Ranges ?? []).map((r) => rule(r.CidrIpv6 ?? '?')),
    ...(p.UserIdGroupPairs ?? []).map((r) => rule(r.GroupId ?? '?')),
    ...(p.PrefixListIds ?? []).map((r) => rule(r.PrefixListId ?? '?')),
  ];
}
