import { Match, Template } from 'aws-cdk-lib/assertions';
import { SEED_METADATA_KEY } from '../../lib/bootstrap';
import { parseRegistry } from '../../lib/registry';
import { SERVER_TAG_KEY } from '../../lib/stack';
import { normalisedTemplate, onlyResource, templateOf } from './helpers';

const INSTANCE = 'AWS::EC2::Instance';

function ingressOf(template: Template): string[] {
  const { resource } = onlyResource(template, 'AWS::EC2::SecurityGroup');
  return (resource.Properties.SecurityGroupIngress as any[])
    .map((r) => `${r.IpProtocol} ${r.FromPort}-${r.ToPort} ${r.CidrIp ?? r.CidrIpv6}`)
    .sort();
}

describe('PortsideStack snapshots', () => {
  test('defaults (no domain: path routing on the IP)', () => {
    expect(normalisedTemplate(templateOf())).toMatchSnapshot();
  });

  test('domain, hosted zone and path routing', () => {
    const t = templateOf({ domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ', routing: 'path', email: 'me@example.com' });
    expect(normalisedTemplate(t)).toMatchSnapshot();
  });
});

describe('security group', () => {
  const world = ['tcp 443-443 0.0.0.0/0', 'tcp 443-443 ::/0', 'tcp 80-80 0.0.0.0/0', 'tcp 80-80 ::/0'];

  test.each([
    ['one IPv4 CIDR', '128.187.0.0/16', ['tcp 22-22 128.187.0.0/16']],
    ['a comma-separated list', '128.187.0.0/16, 10.1.0.0/24', ['tcp 22-22 10.1.0.0/24', 'tcp 22-22 128.187.0.0/16']],
    ['an IPv6 CIDR', '2001:db8::/32', ['tcp 22-22 2001:db8::/32']],
    ['a JSON list mixing families', ['192.0.2.0/24', '2001:db8:1::/48'], ['tcp 22-22 192.0.2.0/24', 'tcp 22-22 2001:db8:1::/48']],
  ])('allows exactly 80/443 from the world and 22 from %s', (_title, schoolCidr, ssh) => {
    expect(ingressOf(templateOf({ schoolCidr }))).toEqual([...ssh, ...world].sort());
  });

  test('has exactly one security group, and nothing else attaches ingress rules', () => {
    const t = templateOf();
    t.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });
});

describe('instance', () => {
  const t = templateOf();

  test('requires IMDSv2', () => {
    t.hasResourceProperties(INSTANCE, { MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' } });
  });

  test('has an encrypted 16 GiB gp3 root volume', () => {
    t.hasResourceProperties(INSTANCE, {
      BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 16, DeleteOnTermination: true } }],
    });
  });

  test('runs t3.micro, in the public subnet, with the key pair AWS created', () => {
    t.hasResourceProperties(INSTANCE, { InstanceType: 't3.micro', KeyName: { Ref: Match.stringLikeRegexp('^ServerKeyPair') } });
    t.hasResourceProperties('AWS::EC2::KeyPair', { KeyType: 'ed25519', PublicKeyMaterial: Match.absent() });
  });

  test('a wait condition, started once the instance exists, waits up to 15 minutes for one signal from the boot', () => {
    const { id } = onlyResource(t, INSTANCE);
    const handle = onlyResource(t, 'AWS::CloudFormation::WaitConditionHandle');
    expect(handle.id).toMatch(/^ServerBootImageHandle/);
    const wait = onlyResource(t, 'AWS::CloudFormation::WaitCondition');
    expect(wait.resource).toEqual(expect.objectContaining({
      Properties: { Handle: { Ref: handle.id }, Count: 1, Timeout: '900' },
      DependsOn: [id],
    }));
    // The signal (with its reason) replaces cfn-signal's SignalResource, which carries none.
    expect(onlyResource(t, INSTANCE).resource.CreationPolicy).toBeUndefined();
  });

  test('a T instance runs on standard CPU credits unless cpuCredits=unlimited; other types get none', () => {
    t.hasResourceProperties(INSTANCE, { CreditSpecification: { CPUCredits: 'standard' } });
    templateOf({ cpuCredits: 'unlimited' }).hasResourceProperties(INSTANCE, { CreditSpecification: { CPUCredits: 'unlimited' } });
    templateOf({ instanceType: 'm7g.large' }).hasResourceProperties(INSTANCE, { CreditSpecification: Match.absent() });
  });

  test('the subnet is in availabilityZone when set, else the region\'s first', () => {
    templateOf({ availabilityZone: 'us-east-1c' }).hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: 'us-east-1c' });
    t.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] } });
  });

  test('is tagged with the stack name for the deploy CLI', () => {
    t.hasResourceProperties(INSTANCE, { Tags: Match.arrayWith([{ Key: SERVER_TAG_KEY, Value: 'Portside' }]) });
  });

  test('takes its image from the one-time lookup of Canonical\'s Ubuntu 24.04 parameter', () => {
    const { id, resource } = onlyResource(t, 'Custom::AWS');
    expect(JSON.parse(resource.Properties.Create)).toEqual(expect.objectContaining({
      service: 'SSM', action: 'getParameter',
      parameters: { Name: '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id' },
    }));
    // Create only, every property pinned: an Update could only answer the newest image or none (see
    // PinnedUbuntuImage); test/stack/upgrade-path.test.ts pins them against an older Portside's template.
    expect(Object.keys(resource.Properties).sort()).toEqual(['Create', 'InstallLatestAwsSdk', 'ServiceToken']);
    t.hasResourceProperties(INSTANCE, { ImageId: { 'Fn::GetAtt': [id, 'Parameter.Value'] } });
  });

  test('uses the arm64 image for a Graviton instance type', () => {
    const { resource } = onlyResource(templateOf({ instanceType: 't4g.small' }), 'Custom::AWS');
    expect(resource.Properties.Create).toContain('/current/arm64/hvm/ebs-gp3/ami-id');
  });

  test('a switch to Graviton is what the docs say, a new server: a new lookup (never an Update of the old one) and a new wait condition', () => {
    const g = templateOf({ instanceType: 't4g.small' });
    const lookup = onlyResource(g, 'Custom::AWS');
    expect(lookup.id).toMatch(/^ServerImageArm64Resolve/);
    expect(lookup.id).not.toBe(onlyResource(t, 'Custom::AWS').id);
    expect(lookup.resource.Properties.Update).toBeUndefined();
    // "Anytime you add a WaitCondition resource during a stack update, you must associate the wait condition
    // with a new WaitConditionHandle resource": a new server signals a new one.
    expect(onlyResource(g, 'AWS::CloudFormation::WaitConditionHandle').id).toMatch(/^ServerBootImageArm64Handle/);
    expect(onlyResource(g, 'AWS::CloudFormation::WaitCondition').id).toMatch(/^ServerBootImageArm64Wait/);
  });

  test('carries the declared files in its metadata, not in UserData', () => {
    const { resource } = onlyResource(t, INSTANCE);
    const seed = resource.Metadata[SEED_METADATA_KEY];
    expect(seed.version).toBe(1);
    expect(Object.keys(seed.files).sort()).toEqual(['Caddyfile', 'index.html', 'registry.json']);
    expect(parseRegistry(seed.files['registry.json']).services).toEqual({ simon: 3000, startup: 4000 });
    expect(seed.files.Caddyfile).toContain('handle_path /simon/*');
    expect(JSON.stringify(resource.Properties.UserData)).not.toContain('simon');
  });

  test('its role may only read this stack\'s metadata (the boot signal is a presigned URL)', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'cloudformation:DescribeStackResource', Resource: { Ref: 'AWS::StackId' } }] },
      Roles: [{ Ref: Match.stringLikeRegexp('^ServerRole') }],
    });
  });

  test('gets an Elastic IP', () => {
    const { id } = onlyResource(t, INSTANCE);
    t.hasResourceProperties('AWS::EC2::EIP', { Domain: 'vpc', InstanceId: { Ref: id } });
  });
});

describe('network', () => {
  test('is one public subnet with no NAT gateway', () => {
    const t = templateOf();
    t.resourceCountIs('AWS::EC2::Subnet', 1);
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.hasResourceProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true });
  });
});

describe('DNS', () => {
  test('adds A records for the apex and *.domain when hostedZoneId is set', () => {
    const t = templateOf({ domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ' });
    const ip = { 'Fn::GetAtt': [Match.stringLikeRegexp('^ServerElasticIp'), 'PublicIp'] };
    for (const name of ['example.click.', '*.example.click.']) {
      t.hasResourceProperties('AWS::Route53::RecordSet', { Name: name, Type: 'A', HostedZoneId: 'Z0123456789ABCDEFGHIJ', ResourceRecords: [ip], TTL: '300' });
    }
    t.resourceCountIs('AWS::Route53::RecordSet', 2);
  });

  test('adds no records without a hosted zone', () => {
    templateOf({ domain: 'example.click' }).resourceCountIs('AWS::Route53::RecordSet', 0);
  });
});

describe('outputs', () => {
  const ip = { 'Fn::GetAtt': [Match.stringLikeRegexp('^ServerElasticIp'), 'PublicIp'] };

  test('without a domain: IP, http URLs by path, SSH with the created key, and how to fetch that key', () => {
    const t = templateOf();
    t.hasOutput('PublicIp', { Value: ip });
    t.hasOutput('SiteUrl', { Value: { 'Fn::Join': ['', ['http://', ip, '/']] } });
    t.hasOutput('ServiceUrls', { Value: { 'Fn::Join': ['', ['simon=http://', ip, '/simon/ startup=http://', ip, '/startup/']] } });
    t.hasOutput('SshCommand', { Value: { 'Fn::Join': ['', ['ssh -i portside.pem ubuntu@', ip]] } });
    t.hasOutput('FetchPrivateKeyCommand', {
      Value: {
        'Fn::Join': ['', [
          'aws ssm get-parameter --region ', { Ref: 'AWS::Region' }, ' --name /ec2/keypair/',
          { 'Fn::GetAtt': [Match.stringLikeRegexp('^ServerKeyPair'), 'KeyPairId'] },
          ' --with-decryption --query Parameter.Value --output text > portside.pem && chmod 600 portside.pem',
        ]],
      },
    });
  });

  test('with a domain and subdomain routing: https URLs per subdomain', () => {
    const t = templateOf({ domain: 'example.click' });
    t.hasOutput('SiteUrl', { Value: 'https://example.click/' });
    t.hasOutput('ServiceUrls', { Value: 'simon=https://simon.example.click/ startup=https://startup.example.click/' });
  });

  test('with an imported public key: no key to fetch, plain ssh', () => {
    const t = templateOf({ sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2z7KxJ0yQ+dR8YQ3zqk5x4b8T9m2k8XfK3yq6VvTqW me@laptop' });
    t.hasResourceProperties('AWS::EC2::KeyPair', { PublicKeyMaterial: Match.stringLikeRegexp('^ssh-ed25519 ') });
    t.hasOutput('SshCommand', { Value: { 'Fn::Join': ['', ['ssh ubuntu@', ip]] } });
    expect(t.findOutputs('FetchPrivateKeyCommand')).toEqual({});
  });
});
