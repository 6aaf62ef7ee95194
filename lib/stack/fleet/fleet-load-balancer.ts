import { Duration, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { HEALTH_PATH, HTTP_PORT, HTTPS_PORT } from '../../remote/layout';

/**
 * The target group's health check. The load balancer sends `GET HEALTH_PATH` to port 80 of every server;
 * Caddy answers 200 only once the server has converged (the fleet contract). Two failures make a server
 * unhealthy and two passes healthy again, one check every 10 s (the defaults are 30 s, 5 and 2); a newly
 * registered server needs one pass ("After your target is registered, it must pass one health check to be
 * considered healthy"). When every server is unhealthy at once the load balancer "fails open" and sends
 * requests to all of them; health checks do not support WebSockets
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
 */
export const FLEET_HEALTH_CHECK = {
  path: HEALTH_PATH,
  interval: Duration.seconds(10),
  timeout: Duration.seconds(5),
  healthyThresholdCount: 2,
  unhealthyThresholdCount: 2,
  healthyHttpCodes: '200',
} as const;

/**
 * How long a server leaving the group (a rolling update, a scale-in, a replaced instance) keeps answering the
 * requests it already has: the load balancer "stops sending requests to targets that are deregistering, but
 * uses connection draining to ensure that in-flight traffic completes" (DeregisterTargets,
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeregisterTargets.html).
 * The default is 300 s (`deregistration_delay.timeout_seconds`, https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay,
 * which also warns that a target closing a connection before the delay ends gives its client a 5xx); a course
 * service's requests take far less than 30 s.
 */
export const FLEET_DEREGISTRATION_DELAY = Duration.seconds(30);

/** Props of {@link FleetLoadBalancer}. */
export interface FleetLoadBalancerProps {
  /** The VPC; the load balancer spans its public subnets (two Availability Zones). */
  readonly vpc: ec2.IVpc;
  /** The apex domain; the certificate covers it and `*.<domain>`. */
  readonly domain: string;
  /** The Route 53 hosted zone of `domain`: the certificate is validated there, the records are written there. */
  readonly hostedZoneId: string;
}

/**
 * The fleet's front door: an internet-facing Application Load Balancer that ends TLS with an ACM certificate
 * for the apex and `*.<domain>`, redirects port 80 to 443, and sends requests to port 80 of every healthy
 * server (one target group). The stack points the apex and wildcard records at it (`recordTarget`).
 */
export class FleetLoadBalancer extends Construct {
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly certificate: acm.Certificate;
  public readonly targetGroup: elbv2.ApplicationTargetGroup;

  constructor(scope: Construct, id: string, props: FleetLoadBalancerProps) {
    super(scope, id);
    // Attributes, not a lookup: synth stays offline (as the single server's records do).
    const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: props.hostedZoneId, zoneName: props.domain });

    // DNS validation in the zone: with HostedZoneId, ACM adds the validation CNAME itself ("causes ACM to add
    // your CNAME to the domain record", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-certificatemanager-certificate-domainvalidationoption.html),
    // and the stack waits until the certificate is issued; automatically only when the zone is in Route 53 in
    // this account, else the stack stays CREATE_IN_PROGRESS until someone adds the record
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-certificatemanager-certificate.html).
    // The apex and the wildcard share one record: ACM's validation name for *.<domain> is the apex's
    // (https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html), so CDK lists the name once
    // (aws/aws-cdk#9291; a duplicate failed with Route 53's InvalidChangeBatch, aws/aws-cdk#9248).
    this.certificate = new acm.Certificate(this, 'Certificate', {
      domainName: props.domain,
      subjectAlternativeNames: [`*.${props.domain}`],
      validation: acm.CertificateValidation.fromDns(zone),
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Portside load balancer: HTTP and HTTPS from anywhere; to the servers on port 80 only',
      allowAllOutbound: false,
    });
    for (const port of [HTTP_PORT, HTTPS_PORT]) {
      this.securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `port ${port} from anywhere (IPv4)`);
    }
    Validations.of(this.securityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'The public front door of a web site: 80 (redirected to HTTPS) and 443 are open to the world by design.',
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: this.securityGroup,
      // Requests with header names that are not valid HTTP are refused at the door, not passed to a service.
      dropInvalidHeaderFields: true,
      // Idle timeout: AWS's default, 60 s. AWS asks that a target's own idle timeout be longer, or the load
      // balancer may send a request on a connection the target just closed and answer 502
      // (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout):
      // the servers' Caddy keeps idle connections 5 minutes (its default; the fleet's Caddyfile sets no `idle`).
    });
    Validations.of(this.loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason: 'Access logs need an S3 bucket and cost storage every month; each server keeps its own Caddy and service logs.',
    });

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Servers', {
      vpc: props.vpc,
      port: HTTP_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.INSTANCE,
      healthCheck: { ...FLEET_HEALTH_CHECK, protocol: elbv2.Protocol.HTTP },
      deregistrationDelay: FLEET_DEREGISTRATION_DELAY,
    });

    this.loadBalancer.addListener('Https', {
      port: HTTPS_PORT,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [this.certificate],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      defaultTargetGroups: [this.targetGroup],
      open: false,
    });
    this.loadBalancer.addListener('Http', {
      port: HTTP_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: String(HTTPS_PORT), permanent: true }),
      open: false,
    });
  }

  /**
   * Where the apex and `*.<domain>` records point: an alias to the load balancer. The stack writes the records
   * itself, under the single server's construct IDs, so that moving a stack from one server to a fleet (or
   * back) updates the same two record sets in place instead of creating duplicates Route 53 would refuse.
   */
  public get recordTarget(): route53.RecordTarget {
    return route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(this.loadBalancer));
  }
}
