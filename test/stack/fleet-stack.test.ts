/**
 * The fleet stack (issue #10, "The stack"): one narrow assertion per bullet on the synthesized template of
 * `-c servers=3` (and variants), plus the single server left exactly as it was.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ConfigError, ContextKey } from '../../lib/config';
import { BOOTSTRAP_METADATA_KEY, CONVERGE_METADATA_KEY, readBootstrapScript, readConvergeHook, renderUserData, SEED_METADATA_KEY, USER_DATA_MAX_BYTES } from '../../lib/bootstrap';
import { FLEET_TAG_KEY, PortsideStack, SERVER_TAG_KEY } from '../../lib/stack';
import { configOf, newApp, normalisedTemplate, onlyResource, stackOf, templateOf } from './helpers';

const FLEET: Partial<Record<ContextKey, unknown>> = { domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ', servers: 3 };
const fleetTemplate = (over: Partial<Record<ContextKey, unknown>> = {}) => templateOf({ ...FLEET, ...over });

let t: Template;
beforeAll(() => { t = fleetTemplate(); });

const ref = (template: Template, type: string) => ({ Ref: onlyResource(template, type).id });

describe('context keys', () => {
  test('servers=1 (the default) synthesizes exactly the single-server template', () => {
    expect(normalisedTemplate(templateOf({ servers: 1 }))).toEqual(normalisedTemplate(templateOf()));
    expect(normalisedTemplate(templateOf({ servers: '1', maxServers: '1' }))).toEqual(normalisedTemplate(templateOf()));
  });

  test('a fleet without domain and hostedZoneId fails synth with both problems', () => {
    let error: unknown;
    try { stackOf({ servers: 3, routing: 'path' }); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.key)).toEqual(['domain', 'hostedZoneId']);
  });

  test('servers is the group\'s minimum and maxServers its maximum', () => {
    expect(onlyResource(t, 'AWS::AutoScaling::AutoScalingGroup').resource.Properties).toMatchObject({ MinSize: '3', MaxSize: '3' });
    expect(onlyResource(fleetTemplate({ servers: 2, maxServers: 5 }), 'AWS::AutoScaling::AutoScalingGroup').resource.Properties)
      .toMatchObject({ MinSize: '2', MaxSize: '5' });
  });
});

describe('maxServers', () => {
  test('above servers, a CPU target-tracking policy grows and shrinks the group (new servers warm up for a boot)', () => {
    const roomy = fleetTemplate({ servers: 2, maxServers: 4 });
    roomy.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      AutoScalingGroupName: ref(roomy, 'AWS::AutoScaling::AutoScalingGroup'), PolicyType: 'TargetTrackingScaling', EstimatedInstanceWarmup: 1200,
      TargetTrackingConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' }, TargetValue: 60 },
    });
  });

  test('equal to servers (the default), the group stays at its size', () => {
    t.resourceCountIs('AWS::AutoScaling::ScalingPolicy', 0);
  });
});

describe('the VPC', () => {
  test('spans two Availability Zones with public subnets only and no NAT gateway', () => {
    t.resourceCountIs('AWS::EC2::Subnet', 2);
    t.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true });
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    const azs = Object.values(t.findResources('AWS::EC2::Subnet')).map((s) => JSON.stringify(s.Properties.AvailabilityZone));
    expect(new Set(azs).size).toBe(2);
  });
});

describe('the load balancer', () => {
  test('is internet-facing in both public subnets', () => {
    const subnets = Object.keys(t.findResources('AWS::EC2::Subnet')).map((id) => ({ Ref: id }));
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing', Type: 'application', Subnets: subnets });
  });

  test('answers 443 with an ACM certificate for the apex and *.<domain>, DNS-validated in the zone', () => {
    t.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'example.click', SubjectAlternativeNames: ['*.example.click'], ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'example.click', HostedZoneId: 'Z0123456789ABCDEFGHIJ' }],
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: ref(t, 'AWS::CertificateManager::Certificate') }],
      DefaultActions: [{ Type: 'forward', TargetGroupArn: ref(t, 'AWS::ElasticLoadBalancingV2::TargetGroup') }],
    });
  });

  test('redirects 80 to 443', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80, Protocol: 'HTTP', DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    });
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 2);
  });

  test('has Route 53 alias records for the apex and the wildcard', () => {
    const alb = onlyResource(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').id;
    for (const name of ['example.click.', '*.example.click.']) {
      t.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: name, Type: 'A', HostedZoneId: 'Z0123456789ABCDEFGHIJ',
        AliasTarget: { HostedZoneId: { 'Fn::GetAtt': [alb, 'CanonicalHostedZoneID'] }, DNSName: Match.anyValue() },
      });
    }
    t.resourceCountIs('AWS::Route53::RecordSet', 2);
  });

  test('the records keep the single server\'s logical IDs, so moving to a fleet updates them in place', () => {
    const records = (tpl: Template) => Object.fromEntries(Object.entries(tpl.findResources('AWS::Route53::RecordSet'))
      .map(([id, r]) => [id, { Name: r.Properties.Name, Type: r.Properties.Type, alias: 'AliasTarget' in r.Properties, TTL: r.Properties.TTL }]));
    const single = records(templateOf({ domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ' }));
    const fleet = records(t);
    expect(Object.keys(fleet).sort()).toEqual(Object.keys(single).sort());
    for (const id of Object.keys(single)) {
      expect(single[id]).toMatchObject({ alias: false, TTL: '300' });
      expect(fleet[id]).toEqual({ Name: single[id].Name, Type: 'A', alias: true, TTL: undefined });
    }
  });

  test('sends requests to one target group: port 80 of each server, health GET /_portside/health every 10 s, 2/2, 30 s draining', () => {
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 1);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 80, Protocol: 'HTTP', TargetType: 'instance',
      HealthCheckPath: '/_portside/health', HealthCheckProtocol: 'HTTP', HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 2, UnhealthyThresholdCount: 2, Matcher: { HttpCode: '200' },
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
    });
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { TargetGroupARNs: [ref(t, 'AWS::ElasticLoadBalancingV2::TargetGroup')] });
  });
});

describe('the Auto Scaling group', () => {
  const group = () => onlyResource(t, 'AWS::AutoScaling::AutoScalingGroup').resource;
  const template = () => onlyResource(t, 'AWS::EC2::LaunchTemplate').resource;

  test('launches from a launch template: the pinned Ubuntu image, IMDSv2 required, an encrypted gp3 root volume', () => {
    const data = template().Properties.LaunchTemplateData;
    expect(data.ImageId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^FleetServersImageResolve/), 'Parameter.Value'] });
    t.hasResourceProperties('Custom::AWS', { Create: Match.stringLikeRegexp('/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id') });
    expect(data.MetadataOptions).toEqual({ HttpTokens: 'required' });
    expect(data.BlockDeviceMappings).toEqual([{ DeviceName: '/dev/sda1', Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 16, VolumeType: 'gp3' } }]);
    expect(data.CreditSpecification).toEqual({ CpuCredits: 'standard' });
    expect(group().Properties.LaunchTemplate).toEqual({
      LaunchTemplateId: ref(t, 'AWS::EC2::LaunchTemplate'),
      Version: { 'Fn::GetAtt': [onlyResource(t, 'AWS::EC2::LaunchTemplate').id, 'LatestVersionNumber'] },
    });
  });

  test('boots the single server\'s bootstrap from the launch template\'s metadata, with a fleet seed', () => {
    const meta = template().Metadata;
    expect(meta[BOOTSTRAP_METADATA_KEY]).toEqual({ version: 1, script: readBootstrapScript() });
    expect(meta[CONVERGE_METADATA_KEY]).toEqual({ version: 1, script: readConvergeHook() });
    const files = meta[SEED_METADATA_KEY].files;
    expect(JSON.parse(files['registry.json']).loadBalancer).toEqual({ trustedProxies: ['10.80.0.0/24'] });
    expect(files.Caddyfile).toContain('\nhttp://simon.example.click {');
    expect(files.Caddyfile).toContain('\t\ttrusted_proxies 10.80.0.0/24\n');
    expect(files.Caddyfile).toContain(':80 {\n\thandle /_portside/health {');
  });

  test('UserData is the stub with a fleet\'s settings: metadata on the launch template, cfn-signal to the group, ufw 22 and 80', () => {
    const parts: unknown[] = template().Properties.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1];
    const text = parts.map((p) => (typeof p === 'string' ? p : '<token>')).join('');
    const groupId = onlyResource(t, 'AWS::AutoScaling::AutoScalingGroup').id;
    const templateId = onlyResource(t, 'AWS::EC2::LaunchTemplate').id;
    expect(text).toContain(`export PORTSIDE_RESOURCE='${templateId}'\n`);
    expect(text).toContain(`export PORTSIDE_SIGNAL_RESOURCE='${groupId}'\n`);
    expect(text).toContain("export PORTSIDE_PUBLIC_PORTS='22 80'\n");
    expect(text).toContain("export PORTSIDE_STORE_BUCKET='<token>'\n");
    expect(text).toContain("export PORTSIDE_PARAMETER_PREFIX='/portside/Portside'\n");
    expect(text).toContain("export PORTSIDE_CONVERGED_MARKER='/etc/portside/portside-converged'\n");
    expect(text).toContain(`export PORTSIDE_CONVERGE_KEY='${CONVERGE_METADATA_KEY}'\n`);
    expect(text).not.toContain('PORTSIDE_SIGNAL_URL=');
    expect(Buffer.byteLength(text)).toBeLessThan(USER_DATA_MAX_BYTES);
    expect(parts).toContainEqual({ Ref: onlyResource(t, 'AWS::S3::Bucket').id });
  });

  test('UserData names exactly one way to signal the boot', () => {
    const base = { stackName: 'S', region: 'r', logicalId: 'L', metadataKey: 'm', bootstrapKey: 'b', user: 'u', www: '/w', caddyDir: '/c', publicPorts: [22] };
    const fleet = { signalResource: 'G', storeBucket: 'B', parameterPrefix: '/portside/S', convergedMarker: '/c/portside-converged' };
    expect(() => renderUserData('#!/bin/bash\n', base)).toThrow('give exactly one way to signal the boot');
    expect(() => renderUserData('#!/bin/bash\n', { ...base, signalUrl: 'https://x', fleet })).toThrow('give exactly one way to signal the boot');
  });

  test('replaces unhealthy servers by the load balancer\'s health checks, after a grace period that covers a boot', () => {
    expect(group().Properties).toMatchObject({ HealthCheckType: 'ELB', HealthCheckGracePeriod: 1200 });
  });

  test('waits for every server\'s creation signal, as long as the grace period', () => {
    expect(group().CreationPolicy).toEqual({ ResourceSignal: { Count: 3, Timeout: 'PT20M' } });
  });

  test('rolls updates one server at a time, waiting for its signal, at least one in service and fewer than MaxSize', () => {
    const rolling = group().UpdatePolicy.AutoScalingRollingUpdate;
    expect(rolling).toMatchObject({ MaxBatchSize: 1, MinInstancesInService: 2, WaitOnResourceSignals: true, PauseTime: 'PT20M' });
    // With room above the minimum, a new server starts before an old one stops.
    const roomy = onlyResource(fleetTemplate({ servers: 2, maxServers: 4 }), 'AWS::AutoScaling::AutoScalingGroup').resource;
    expect(roomy.UpdatePolicy.AutoScalingRollingUpdate).toMatchObject({ MaxBatchSize: 1, MinInstancesInService: 2 });
    const smallest = onlyResource(fleetTemplate({ servers: 2 }), 'AWS::AutoScaling::AutoScalingGroup').resource;
    expect(smallest.UpdatePolicy.AutoScalingRollingUpdate.MinInstancesInService).toBe(1);
  });

  test('tags every server it launches with the stack (server and fleet tags)', () => {
    expect(group().Properties.Tags).toEqual(expect.arrayContaining([
      { Key: SERVER_TAG_KEY, Value: 'Portside', PropagateAtLaunch: true },
      { Key: FLEET_TAG_KEY, Value: 'Portside', PropagateAtLaunch: true },
    ]));
  });

  test('has no single instance, Elastic IP or wait condition (those are the single server\'s)', () => {
    for (const type of ['AWS::EC2::Instance', 'AWS::EC2::EIP', 'AWS::CloudFormation::WaitCondition']) t.resourceCountIs(type, 0);
  });
});

describe('security groups', () => {
  const serverSg = () => Object.entries(t.findResources('AWS::EC2::SecurityGroup')).find(([, r]) => r.Properties.GroupDescription.startsWith('Portside fleet server'))!;
  const albSg = () => Object.entries(t.findResources('AWS::EC2::SecurityGroup')).find(([, r]) => r.Properties.GroupDescription.startsWith('Portside load balancer'))!;

  test('servers admit 80 only from the load balancer\'s group and 22 only from schoolCidr: nothing else', () => {
    const [id, sg] = serverSg();
    expect(sg.Properties.SecurityGroupIngress).toEqual([
      { CidrIp: '128.187.0.0/16', Description: 'port 22 from the school (128.187.0.0/16)', FromPort: 22, IpProtocol: 'tcp', ToPort: 22 },
    ]);
    const separate = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress'))
      .filter((r) => JSON.stringify(r.Properties.GroupId) === JSON.stringify({ 'Fn::GetAtt': [id, 'GroupId'] }))
      .map((r) => r.Properties);
    expect(separate).toEqual([{
      Description: 'port 80 from the load balancer', FromPort: 80, ToPort: 80, IpProtocol: 'tcp',
      GroupId: { 'Fn::GetAtt': [id, 'GroupId'] }, SourceSecurityGroupId: { 'Fn::GetAtt': [albSg()[0], 'GroupId'] },
    }]);
  });

  test('every school CIDR gets SSH, IPv6 included, and a /0 is refused', () => {
    const [, sg] = Object.entries(fleetTemplate({ schoolCidr: '128.187.0.0/16,2001:db8::/32' }).findResources('AWS::EC2::SecurityGroup'))
      .find(([, r]) => r.Properties.GroupDescription.startsWith('Portside fleet server'))!;
    expect(sg.Properties.SecurityGroupIngress.map((r: any) => [r.CidrIp ?? r.CidrIpv6, r.FromPort])).toEqual([['128.187.0.0/16', 22], ['2001:db8::/32', 22]]);
    expect(() => stackOf({ ...FLEET, schoolCidr: '0.0.0.0/0' })).toThrow(ConfigError);
  });

  test('the load balancer admits 80 and 443 from anywhere and reaches the servers on 80 only', () => {
    const [id, sg] = albSg();
    expect(sg.Properties.SecurityGroupIngress.map((r: any) => [r.CidrIp, r.FromPort, r.ToPort])).toEqual([['0.0.0.0/0', 80, 80], ['0.0.0.0/0', 443, 443]]);
    expect(sg.Properties.SecurityGroupEgress).toBeUndefined();
    const egress = Object.values(t.findResources('AWS::EC2::SecurityGroupEgress')).map((r) => r.Properties);
    expect(egress).toEqual([expect.objectContaining({
      GroupId: { 'Fn::GetAtt': [id, 'GroupId'] }, DestinationSecurityGroupId: { 'Fn::GetAtt': [serverSg()[0], 'GroupId'] },
      FromPort: 80, ToPort: 80, IpProtocol: 'tcp',
    })]);
  });
});

describe('the releases bucket', () => {
  test('is private, encrypted, SSL only and versioned, and kept when the stack goes', () => {
    const { id, resource } = onlyResource(t, 'AWS::S3::Bucket');
    expect(resource.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    expect(resource.DeletionPolicy).toBe('Retain');
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('is named in the outputs, with the load balancer\'s DNS name', () => {
    t.hasOutput('ReleasesBucketName', { Value: { Ref: onlyResource(t, 'AWS::S3::Bucket').id } });
    t.hasOutput('LoadBalancerDnsName', { Value: { 'Fn::GetAtt': [onlyResource(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').id, 'DNSName'] } });
    t.hasOutput('SecretsParameterPrefix', { Value: '/portside/Portside' });
    t.hasOutput('SiteUrl', { Value: 'https://example.click/' });
    t.hasOutput('ServiceUrls', { Value: 'simon=https://simon.example.click/ startup=https://startup.example.click/' });
    t.hasOutput('FetchPrivateKeyCommand', { Value: Match.anyValue() });
  });
});

describe('the servers\' role', () => {
  test('reads only its metadata, the bucket\'s objects (and lists it), and its stack\'s parameters: no writes, no KMS', () => {
    const roleId = Object.entries(t.findResources('AWS::IAM::Role')).find(([, r]) => r.Properties.Description?.startsWith('Portside fleet server'))![0];
    const policy = Object.values(t.findResources('AWS::IAM::Policy')).find((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))!;
    const bucket = onlyResource(t, 'AWS::S3::Bucket').id;
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      { Action: 'cloudformation:DescribeStackResource', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*']] } },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: { 'Fn::GetAtt': [bucket, 'Arn'] } },
      {
        Action: ['ssm:GetParameter', 'ssm:GetParameters'], Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':parameter/portside/Portside/*']] },
      },
      // Added by the Auto Scaling group's creation signals (aws-cdk-lib); cfn-signal itself needs no credentials.
      { Action: 'cloudformation:SignalResource', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } },
    ]);
    expect(JSON.stringify(policy)).not.toMatch(/kms:|s3:Put|s3:Delete|ssm:Put/);
  });
});

describe('changes that must roll, and changes that must not', () => {
  const launchData = (tpl: Template) => JSON.stringify(onlyResource(tpl, 'AWS::EC2::LaunchTemplate').resource.Properties);

  test('services, routing, the bootstrap, the converge hook, schoolCidr, sizes and email never change the launch template: no rolling update', () => {
    const base = launchData(t);
    expect(launchData(fleetTemplate({ services: { simon: 3000, chat: 5000 } }))).toBe(base);
    expect(launchData(fleetTemplate({ routing: 'path' }))).toBe(base);
    // Nor do the school's range (the security group's rules), the group's size, or an (unused) email.
    expect(launchData(fleetTemplate({ schoolCidr: '10.0.0.0/8' }))).toBe(base);
    expect(launchData(fleetTemplate({ maxServers: 6 }))).toBe(base);
    expect(launchData(fleetTemplate({ servers: 4 }))).toBe(base);
    expect(launchData(fleetTemplate({ email: 'me@example.com' }))).toBe(base);
    expect(launchData(Template.fromStack(stackOf(FLEET, undefined, '#!/bin/bash\necho another bootstrap\n')))).toBe(base);
    const otherHook = new PortsideStack(newApp(), 'Portside', { config: configOf(FLEET), convergeHook: '#!/bin/bash\nexit 0\n' });
    expect(launchData(Template.fromStack(otherHook))).toBe(base);
  });

  test('a new image generation changes the launch template (the servers are replaced one at a time)', () => {
    expect(launchData(Template.fromStack(stackOf(FLEET, 2)))).not.toBe(launchData(t));
  });
});
