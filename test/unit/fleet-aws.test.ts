import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { fleetInstances } from '../../lib/fleet/aws-fleet';

const ec2 = new EC2Client({ region: 'us-east-1' });
const ec2Mock = mockClient(ec2);
beforeEach(() => ec2Mock.reset());

describe('fleetInstances', () => {
  test('asks for running instances tagged portside:fleet=<stack>, over every page, oldest launch first', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolvesOnce({
      Reservations: [{ Instances: [{ InstanceId: 'i-b', PublicIpAddress: '203.0.113.2', LaunchTime: new Date('2026-11-30T12:00:00Z'), KeyName: 'k' }] }],
      NextToken: 'page2',
    }).resolvesOnce({
      Reservations: [{ Instances: [
        { InstanceId: 'i-a', PublicIpAddress: '203.0.113.1', LaunchTime: new Date('2026-11-30T11:00:00Z'), KeyName: 'k' },
        { InstanceId: 'i-c', LaunchTime: new Date('2026-11-30T10:00:00Z') },
      ] }],
    });
    expect(await fleetInstances(ec2, 'Portside')).toEqual([
      { instanceId: 'i-a', publicIp: '203.0.113.1', keyName: 'k' },
      { instanceId: 'i-b', publicIp: '203.0.113.2', keyName: 'k' },
    ]);
    const calls = ec2Mock.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
    expect(calls[0].Filters).toEqual([{ Name: 'tag:portside:fleet', Values: ['Portside'] }, { Name: 'instance-state-name', Values: ['running'] }]);
    expect(calls[1].NextToken).toBe('page2');
  });
});
