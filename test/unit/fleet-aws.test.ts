import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, DescribeKeyPairsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { awsFleet, fleetInstances } from '../../lib/fleet/aws-fleet';

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

describe('awsFleet', () => {
  test('reads a key pair\'s private key from SSM in the region the fleet was found in, even from AWS_DEFAULT_REGION', async () => {
    // ap-southeast-4 is in no one's AWS_REGION here: an SSMClient on the SDK's own chain would not be in it.
    const regional = new EC2Client({ region: 'ap-southeast-4' });
    const regionalMock = mockClient(regional);
    const ssmMock = mockClient(SSMClient);
    const home = mkdtempSync(join(tmpdir(), 'fleet-aws-'));
    try {
      regionalMock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-a', PublicIpAddress: '203.0.113.1', KeyName: 'k' }] }] });
      regionalMock.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyPairId: 'key-0123' }] });
      ssmMock.on(GetParameterCommand).rejects(Object.assign(new Error('no such parameter'), { name: 'ParameterNotFound' }));
      const env = { AWS_DEFAULT_REGION: 'ap-southeast-4', PORTSIDE_HOME: home };
      await expect(awsFleet({ env, ec2: regional })).rejects.toThrow(/\/ec2\/keypair\/key-0123 does not exist/);
      const call = ssmMock.send.getCall(0);
      expect(call.args[0].input).toEqual({ Name: '/ec2/keypair/key-0123', WithDecryption: true });
      expect(await (call.thisValue as SSMClient).config.region()).toBe('ap-southeast-4');
    } finally {
      regionalMock.restore();
      ssmMock.restore();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
