import { Aws, CfnOutput, Duration, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { readBootstrapScript, readDefaultHomePage, seedFiles } from '../bootstrap';
import { serviceUrl, siteUrl } from '../caddy';
import { PortsideConfig } from '../config/portside-config';
import { Fleet, secretsParameterPrefix } from './fleet';
import { LegacyServer } from './legacy-server';
import { DEPLOY_USER, WebServer } from './web-server';

/** Props of {@link PortsideStack}. */
export interface PortsideStackProps extends StackProps {
  /** The validated configuration (from `loadConfig`). */
  readonly config: PortsideConfig;

  /**
   * Which pinned Ubuntu image the server runs; raising it replaces the server. See `WebServerProps`.
   * @default 1
   */
  readonly imageGeneration?: number;

  /**
   * The bootstrap script the server runs at first boot (travels in the instance's metadata).
   * @default - assets/bootstrap.sh
   */
  readonly bootstrapScript?: string;

  /**
   * A fleet's converge hook (see FleetServersProps.convergeHook).
   * @default - lib/fleet/portside-converge.sh
   */
  readonly convergeHook?: string;

  /**
   * The server of a stack deployed by a Portside from before the UserData stub: kept as deployed, so the
   * upgrade does not stop it. See `WebServerProps.legacyServer`.
   * @default - none: a server that boots the UserData stub
   */
  readonly legacyServer?: LegacyServer;
}

/** The VPC's address range (public subnets of /26 each): a literal, so the fleet's servers can trust it. */
export const VPC_CIDR = '10.80.0.0/24';

/**
 * Portside's whole footprint in one account: a small VPC with public subnets and no NAT, the web server
 * with its Elastic IP (or, with `servers` ≥ 2, a fleet behind a load balancer: lib/stack/fleet), optional DNS
 * records, and outputs that tell a student how to reach it.
 * Environment-agnostic and free of lookups, so `cdk synth` works offline with no credentials.
 */
export class PortsideStack extends Stack {
  /** The single server; undefined for a fleet. */
  public readonly server?: WebServer;
  /** The fleet (`servers` ≥ 2); undefined for a single server. */
  public readonly fleet?: Fleet;
  public readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: PortsideStackProps) {
    const isFleet = props.config.servers >= 2;
    super(scope, id, {
      description: isFleet
        ? `Portside: ${props.config.servers} EC2 web servers behind an Application Load Balancer (Auto Scaling group, releases in S3)`
        : 'Portside: one EC2 web server (Caddy on 80/443, SSH from the school) for course services',
      ...props,
    });
    const { config } = props;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      // One AZ for one server: the one asked for, else the region's first. Changing it later moves the subnet,
      // which replaces the server: choose before the first deploy. A fleet spans two (its load balancer needs
      // two); the first subnet stays where it was.
      ...(isFleet ? { maxAzs: 2 } : config.availabilityZone ? { availabilityZones: [config.availabilityZone] } : { maxAzs: 1 }),
      natGateways: 0,
      subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 26 }],
      // Nothing uses the default security group; restricting it would cost a custom-resource Lambda.
      restrictDefaultSecurityGroup: false,
    });
    Validations.of(this.vpc).acknowledge({
      id: 'AwsSolutions-VPC7',
      reason: 'Flow logs cost CloudWatch ingestion and storage every month; a single course server is debugged with its own logs.',
    });

    if (isFleet) {
      this.fleet = new Fleet(this, 'Fleet', {
        config, vpc: this.vpc, vpcCidr: VPC_CIDR, imageGeneration: props.imageGeneration, bootstrapScript: props.bootstrapScript,
        convergeHook: props.convergeHook,
      });
      this.acknowledgeCustomResourceFindings();
      this.dnsRecords(config, this.fleet.loadBalancer.recordTarget);
      this.fleetOutputs(config, this.fleet);
      return;
    }
    this.server = this.singleServer(props);
  }

  /** One server with its Elastic IP, optional DNS records, and the outputs that tell a student how to reach it. */
  private singleServer(props: PortsideStackProps): WebServer {
    const { config } = props;
    const server = new WebServer(this, 'Server', {
      vpc: this.vpc,
      schoolCidrs: config.schoolCidrs,
      seed: seedFiles(config, readDefaultHomePage()),
      bootstrapScript: props.bootstrapScript ?? readBootstrapScript(),
      instanceType: new ec2.InstanceType(config.instanceType),
      sshPublicKey: config.sshPublicKey,
      imageGeneration: props.imageGeneration,
      bootstrapTimeout: Duration.minutes(15),
      cpuCredits: config.cpuCredits === 'unlimited' ? ec2.CpuCredits.UNLIMITED : ec2.CpuCredits.STANDARD,
      legacyServer: props.legacyServer,
    });
    this.acknowledgeCustomResourceFindings();

    this.dnsRecords(config, route53.RecordTarget.fromIpAddresses(server.publicIp), Duration.minutes(5));
    this.singleServerOutputs(config, server);
    return server;
  }

  /**
   * The apex and wildcard A records, when a domain and its zone are given: to the single server's Elastic IP,
   * or an alias to a fleet's load balancer. The same construct IDs in both cases, so a move between the two is
   * an in-place update of each record set (a second record set of the same name and type would be refused).
   */
  private dnsRecords(config: PortsideConfig, target: route53.RecordTarget, ttl?: Duration): void {
    if (!config.domain || !config.hostedZoneId) return;
    // Attributes, not a lookup: synth stays offline. Names are absolute (trailing dot), so the zone may
    // be the domain itself or a parent of it.
    const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
      hostedZoneId: config.hostedZoneId,
      zoneName: config.domain,
    });
    new route53.ARecord(this, 'ApexRecord', { zone, recordName: `${config.domain}.`, target, ttl });
    new route53.ARecord(this, 'WildcardRecord', { zone, recordName: `*.${config.domain}.`, target, ttl });
  }

  private singleServerOutputs(config: PortsideConfig, server: WebServer): void {
    const ip = server.publicIp;
    new CfnOutput(this, 'InstanceId', { value: server.instance.instanceId, description: 'The EC2 instance' });
    new CfnOutput(this, 'PublicIp', { value: ip, description: 'The server\'s Elastic IP' });
    new CfnOutput(this, 'SiteUrl', { value: siteUrl(config, ip), description: 'The home page' });
    const services = Object.keys(config.services).sort();
    if (services.length > 0) {
      new CfnOutput(this, 'ServiceUrls', {
        value: services.map((name) => `${name}=${serviceUrl(config, name, ip)}`).join(' '),
        description: 'Where each declared service answers once deployed',
      });
    }
    const keyFile = `${this.stackName.toLowerCase()}.pem`;
    const keyName = server.privateKeyParameterName;
    new CfnOutput(this, 'SshCommand', {
      value: keyName ? `ssh -i ${keyFile} ${DEPLOY_USER}@${ip}` : `ssh ${DEPLOY_USER}@${ip}`,
      description: 'Log in (from the school network)',
    });
    if (keyName) this.fetchPrivateKeyOutput(keyName, keyFile, 'Save the private key AWS created for this server');
  }

  /** What the deploy CLI and the student need of a fleet: the bucket, the load balancer, the URLs, the key. */
  private fleetOutputs(config: PortsideConfig, fleet: Fleet): void {
    const dns = fleet.loadBalancer.loadBalancer.loadBalancerDnsName;
    new CfnOutput(this, 'ReleasesBucketName', { value: fleet.releases.bucket.bucketName, description: 'The release store (S3) every server converges from' });
    new CfnOutput(this, 'LoadBalancerDnsName', { value: dns, description: 'The load balancer (the apex and *.<domain> point at it)' });
    new CfnOutput(this, 'AutoScalingGroupName', { value: fleet.servers.group.autoScalingGroupName, description: 'The servers\' Auto Scaling group' });
    new CfnOutput(this, 'SecretsParameterPrefix', { value: secretsParameterPrefix(this), description: 'Where each service\'s env file lives in Parameter Store (<prefix>/<service>/env)' });
    new CfnOutput(this, 'SiteUrl', { value: siteUrl(config, dns), description: 'The home page' });
    const services = Object.keys(config.services).sort();
    if (services.length > 0) {
      new CfnOutput(this, 'ServiceUrls', {
        value: services.map((name) => `${name}=${serviceUrl(config, name, dns)}`).join(' '),
        description: 'Where each declared service answers once deployed',
      });
    }
    const keyName = fleet.servers.privateKeyParameterName;
    if (keyName) this.fetchPrivateKeyOutput(keyName, `${this.stackName.toLowerCase()}.pem`, 'Save the private key AWS created for the fleet\'s servers (one key for all)');
  }

  private fetchPrivateKeyOutput(keyName: string, keyFile: string, description: string): void {
    new CfnOutput(this, 'FetchPrivateKeyCommand', {
      value: `aws ssm get-parameter --region ${Aws.REGION} --name ${keyName} --with-decryption --query Parameter.Value --output text > ${keyFile} && chmod 600 ${keyFile}`,
      description,
    });
  }

  /**
   * The AMI lookup's Lambda is a singleton that aws-cdk-lib creates at stack level; its findings are
   * acknowledged on it, here, because that is where it lives.
   */
  private acknowledgeCustomResourceFindings(): void {
    const fn = this.node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
    if (!fn) return;
    Validations.of(fn).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The AMI lookup Lambda (aws-cdk-lib AwsCustomResource) only writes its own CloudWatch logs; the AWS managed basic execution role is exactly that.',
      },
      {
        id: 'AwsSolutions-L1',
        reason: 'The AMI lookup Lambda\'s runtime is chosen by aws-cdk-lib (AwsCustomResource); it runs once, at stack creation.',
      },
    );
  }
}
