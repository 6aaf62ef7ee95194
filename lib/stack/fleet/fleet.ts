import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { readBootstrapScript, readConvergeHook, readDefaultHomePage, seedFiles } from '../../bootstrap';
import { PortsideConfig } from '../../config/portside-config';
import { EC2_PATHS } from '../../registry';
import { FleetLoadBalancer } from './fleet-load-balancer';
import { FleetServers } from './fleet-servers';
import { ReleasesBucket } from './releases-bucket';

/** Props of {@link Fleet}. */
export interface FleetProps {
  /** The validated configuration, with `servers` ≥ 2, a domain and its hosted zone. */
  readonly config: PortsideConfig;
  /** The VPC: two Availability Zones, public subnets only. */
  readonly vpc: ec2.IVpc;
  /**
   * The VPC's CIDR as a literal (not the VPC's token): the load balancer connects from it, so the servers'
   * Caddy trusts forwarded headers from it alone. It is written into the registry the servers start from.
   */
  readonly vpcCidr: string;
  /** @default 1 */
  readonly imageGeneration?: number;
  /** @default - assets/bootstrap.sh */
  readonly bootstrapScript?: string;
  /** @default - lib/fleet/portside-converge.sh */
  readonly convergeHook?: string;
}

/**
 * `servers` ≥ 2 (issue #10): the same Portside server, several times, as an Auto Scaling group behind an
 * Application Load Balancer, with the releases in S3 so that a server launched later converges on its own.
 */
export class Fleet extends Construct {
  public readonly loadBalancer: FleetLoadBalancer;
  public readonly servers: FleetServers;
  public readonly releases: ReleasesBucket;

  constructor(scope: Construct, id: string, props: FleetProps) {
    super(scope, id);
    const { config } = props;
    if (!config.domain || !config.hostedZoneId || config.servers < 2) {
      throw new Error(`a fleet needs servers ≥ 2, a domain and a hostedZoneId (got servers=${config.servers}, domain=${config.domain}, hostedZoneId=${config.hostedZoneId})`);
    }
    this.releases = new ReleasesBucket(this, 'Releases');
    this.loadBalancer = new FleetLoadBalancer(this, 'LoadBalancer', { vpc: props.vpc, domain: config.domain, hostedZoneId: config.hostedZoneId });
    this.servers = new FleetServers(this, 'Servers', {
      vpc: props.vpc,
      schoolCidrs: config.schoolCidrs,
      loadBalancerSecurityGroup: this.loadBalancer.securityGroup,
      targetGroup: this.loadBalancer.targetGroup,
      releasesBucket: this.releases.bucket,
      // The registry says "behind a load balancer", so Caddy serves plain HTTP and trusts only the VPC's
      // forwarded headers, at first boot and after every deploy (the agent renders from the registry).
      seed: seedFiles(config, readDefaultHomePage(), EC2_PATHS, { trustedProxies: [props.vpcCidr] }),
      bootstrapScript: props.bootstrapScript ?? readBootstrapScript(),
      convergeHook: props.convergeHook ?? readConvergeHook(),
      minServers: config.servers,
      maxServers: config.maxServers,
      instanceType: new ec2.InstanceType(config.instanceType),
      sshPublicKey: config.sshPublicKey,
      imageGeneration: props.imageGeneration,
      cpuCredits: config.cpuCredits === 'unlimited' ? ec2.CpuCredits.UNLIMITED : ec2.CpuCredits.STANDARD,
      bootTimeout: Duration.minutes(20),
    });
  }
}
