import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Template } from 'aws-cdk-lib/assertions';
import { readBootstrapScript, readDefaultHomePage, seedFiles } from '../../lib/bootstrap';
import { WebServer, WebServerProps } from '../../lib/stack';
import { configOf, newApp, onlyResource, stackOf } from './helpers';

/** A WebServer used directly, without PortsideStack or loadConfig in front of it. */
function serverWith(props: Partial<WebServerProps>): WebServer {
  const stack = new Stack(newApp(), 'Direct');
  return new WebServer(stack, 'Server', {
    vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'P', subnetType: ec2.SubnetType.PUBLIC }] }),
    schoolCidrs: ['128.187.0.0/16'],
    seed: seedFiles(configOf(), readDefaultHomePage()),
    bootstrapScript: readBootstrapScript(),
    ...props,
  });
}

describe('WebServer refuses, even when used without the config loader', () => {
  test.each([
    ['0.0.0.0/0', /schoolCidrs: "0.0.0.0\/0": this would open SSH to the whole internet/],
    ['::/0', /schoolCidrs: "::\/0": this would open SSH to the whole internet/],
    ['banana', /schoolCidrs: "banana": a CIDR is an address and a prefix length/],
  ])('SSH from %s', (cidr, message) => {
    expect(() => serverWith({ schoolCidrs: ['10.0.0.0/8', cidr] })).toThrow(message);
  });

  test('no school CIDR at all', () => {
    expect(() => serverWith({ schoolCidrs: [] })).toThrow('schoolCidrs: give at least one CIDR for SSH');
  });

  test.each([0, 1.5, NaN])('imageGeneration %p', (imageGeneration) => {
    expect(() => serverWith({ imageGeneration })).toThrow(`imageGeneration must be a whole number from 1, got ${imageGeneration}`);
  });

  test('a root volume too small for Ubuntu', () => {
    expect(() => serverWith({ rootVolumeGiB: 4 })).toThrow('rootVolumeGiB must be a whole number of at least 8');
  });
});

describe('WebServer defaults and options', () => {
  test('used directly, it builds the same kind of server', () => {
    const t = Template.fromStack(Stack.of(serverWith({})));
    t.hasResourceProperties('AWS::EC2::Instance', { InstanceType: 't3.micro', MetadataOptions: { HttpTokens: 'required' } });
  });

  test('a root volume size and a bootstrap timeout can be given', () => {
    const t = Template.fromStack(Stack.of(serverWith({ rootVolumeGiB: 30, bootstrapTimeout: Duration.minutes(20) })));
    t.hasResourceProperties('AWS::EC2::Instance', { BlockDeviceMappings: [{ Ebs: { VolumeSize: 30 } }] });
    t.hasResourceProperties('AWS::CloudFormation::WaitCondition', { Count: 1, Timeout: '1200' });
  });
});

describe('imageGeneration (the deliberate image upgrade)', () => {
  const image = (generation?: number) => {
    const { resource } = onlyResource(Template.fromStack(stackOf({}, generation)), 'AWS::EC2::Instance');
    return resource.Properties.ImageId['Fn::GetAtt'][0] as string;
  };

  test('generation 1 is the lookup every server has had from the start', () => {
    expect(image(1)).toBe(image(undefined));
    expect(image(1)).toMatch(/^ServerImageResolve/);
  });

  test('a new generation is a new lookup, so a new image (and a new server)', () => {
    expect(image(2)).toMatch(/^ServerImageGeneration2Resolve/);
  });
});
