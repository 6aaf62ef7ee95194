import { dirname, join } from 'node:path';
import { CfnResource, Duration, Lazy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BOOTSTRAP_METADATA_KEY, CONVERGE_METADATA_KEY, readUserDataStub, renderUserData, SEED_METADATA_KEY, SeedFiles, seedMetadata } from '../../bootstrap';
import { ingressPorts } from '../../ports';
import { EC2_PATHS } from '../../registry';
import { CONVERGED_MARKER_FILE, HTTP_PORT } from '../../remote/layout';
import { ingressRules } from '../ingress-rules';
import { PinnedUbuntuImage } from '../pinned-ubuntu-image';
import { FLEET_TAG_KEY, SERVER_TAG_KEY } from '../server-tag';
import { imageConstructId, readMetadataStatement, rootVolume, serverKeyPair, serverUserDataSettings } from '../web-server';
import { fleetServerStatements, secretsParameterPrefix } from './fleet-permissions';

/** The average CPU a fleet with room to grow (maxServers > servers) is scaled to keep. */
export const FLEET_CPU_TARGET_PERCENT = 60;

/** Props of {@link FleetServers}. */
export interface FleetServersProps {
  /** The VPC; servers go into its public subnets (two Availability Zones; no NAT gateway). */
  readonly vpc: ec2.IVpc;
  /** CIDRs allowed to reach SSH (22). None may be a /0. */
  readonly schoolCidrs: readonly string[];
  /** The load balancer's security group: the only source allowed to reach port 80. */
  readonly loadBalancerSecurityGroup: ec2.ISecurityGroup;
  /** The target group every server joins (port 80). */
  readonly targetGroup: elbv2.IApplicationTargetGroup;
  /** The release store the servers converge from (read only). */
  readonly releasesBucket: s3.IBucket;
  /** The declared files a new server starts from (a registry with `loadBalancer` set). */
  readonly seed: SeedFiles;
  /** assets/bootstrap.sh: travels in the launch template's metadata, as on a single server. */
  readonly bootstrapScript: string;
  /**
   * The converge hook a server runs at boot, before it reports success (lib/fleet/portside-converge.sh): it
   * travels in the launch template's metadata too, so a new version never rolls the servers.
   */
  readonly convergeHook: string;
  /** How many servers at least (the group's minimum; ≥ 2). */
  readonly minServers: number;
  /** How many servers at most (≥ minServers); above minServers, a CPU target-tracking policy adds and removes servers. */
  readonly maxServers: number;
  /** @default t3.micro */
  readonly instanceType?: ec2.InstanceType;
  /** @default - AWS creates an ed25519 key pair (private key in SSM at `/ec2/keypair/<id>`) */
  readonly sshPublicKey?: string;
  /**
   * Which pinned Ubuntu image; raising it replaces the servers one at a time (a rolling update).
   * @default 1
   */
  readonly imageGeneration?: number;
  /** @default ec2.CpuCredits.STANDARD */
  readonly cpuCredits?: ec2.CpuCredits;
  /**
   * How long a new server may take to boot and converge before it must have signalled success; also the
   * health check grace period, so the group never replaces a server that is still booting.
   * @default Duration.minutes(20)
   */
  readonly bootTimeout?: Duration;
}

/**
 * The fleet's servers: an Auto Scaling group of identical Portside servers launched from one launch template
 * with everything the single server has (the pinned Ubuntu image, IMDSv2 only, an encrypted gp3 root volume,
 * the same UserData stub and bootstrap from metadata), behind the load balancer's target group.
 */
export class FleetServers extends Construct {
  public readonly group: autoscaling.AutoScalingGroup;
  public readonly launchTemplate: ec2.LaunchTemplate;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly role: iam.Role;
  public readonly image: PinnedUbuntuImage;
  public readonly keyPair: ec2.KeyPair;
  /** The SSM parameter holding the private key, when AWS created the key pair; else undefined. */
  public readonly privateKeyParameterName?: string;

  constructor(scope: Construct, id: string, props: FleetServersProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const bootTimeout = props.bootTimeout ?? Duration.minutes(20);
    checkCounts(props.minServers, props.maxServers);
    const instanceType = props.instanceType ?? new ec2.InstanceType('t3.micro');

    this.securityGroup = this.serverSecurityGroup(props);
    this.role = this.serverRole(props.releasesBucket);
    ({ keyPair: this.keyPair, privateKeyParameterName: this.privateKeyParameterName } = serverKeyPair(this, props.sshPublicKey));
    this.image = new PinnedUbuntuImage(this, imageConstructId(props.imageGeneration ?? 1, instanceType.architecture, false), {
      architecture: instanceType.architecture,
    });
    this.launchTemplate = this.serverLaunchTemplate(props, instanceType);

    this.group = this.autoScalingGroup(props, bootTimeout);
    this.group.attachToApplicationTargetGroup(props.targetGroup);
    if (props.maxServers > props.minServers) {
      // Room to grow: add servers while the fleet's average CPU stays above the target, remove them when it
      // falls (never below minServers). A new server converges at boot before it takes requests.
      this.group.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: FLEET_CPU_TARGET_PERCENT, estimatedInstanceWarmup: bootTimeout });
    }
    // Propagated at launch: the deploy CLI finds the fleet's servers by these tags (the fleet contract), as
    // CloudFormation copies a tag "to EC2 instances that are launched as part of the Auto Scaling group" when
    // PropagateAtLaunch is true (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-autoscaling-autoscalinggroup-tagproperty.html).
    Tags.of(this.group).add(SERVER_TAG_KEY, stack.stackName, { applyToLaunchedInstances: true });
    Tags.of(this.group).add(FLEET_TAG_KEY, stack.stackName, { applyToLaunchedInstances: true });
    this.acknowledgeFindings(props.releasesBucket);
  }

  /** The servers' role: its metadata, the releases bucket and its stack's secrets, read only (fleet-permissions). */
  private serverRole(bucket: s3.IBucket): iam.Role {
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Portside fleet server: read its CloudFormation metadata, the releases bucket and its secrets',
    });
    role.addToPolicy(readMetadataStatement());
    for (const statement of fleetServerStatements(Stack.of(this), bucket)) role.addToPolicy(statement);
    return role;
  }

  /**
   * What every server launches from: the single server's image, disk, IMDSv2 and UserData stub; the declared
   * files, the bootstrap and the converge hook in its metadata (a change there rolls nothing).
   */
  private serverLaunchTemplate(props: FleetServersProps, instanceType: ec2.InstanceType): ec2.LaunchTemplate {
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: this.image,
      instanceType,
      userData: ec2.UserData.custom(this.renderUserData(props)),
      role: this.role,
      securityGroup: this.securityGroup,
      keyPair: this.keyPair,
      blockDevices: [rootVolume(16)],
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      cpuCredits: instanceType.isBurstable() ? (props.cpuCredits ?? ec2.CpuCredits.STANDARD) : undefined,
    });
    const template = launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate;
    template.addMetadata(SEED_METADATA_KEY, seedMetadata(props.seed));
    template.addMetadata(BOOTSTRAP_METADATA_KEY, { version: 1, script: props.bootstrapScript });
    template.addMetadata(CONVERGE_METADATA_KEY, { version: 1, script: props.convergeHook });
    return launchTemplate;
  }

  /** Port 80 from the load balancer only, SSH from the school only, nothing else (no 443: TLS ends at the load balancer). */
  private serverSecurityGroup(props: FleetServersProps): ec2.SecurityGroup {
    const sg = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Portside fleet server: HTTP from the load balancer only, SSH from the school only',
      allowAllOutbound: true,
    });
    sg.addIngressRule(props.loadBalancerSecurityGroup, ec2.Port.tcp(HTTP_PORT), `port ${HTTP_PORT} from the load balancer`);
    for (const rule of ingressRules(props.schoolCidrs).filter((r) => ingressPorts('school').includes(r.port))) {
      sg.addIngressRule(rule.family === 6 ? ec2.Peer.ipv6(rule.cidr) : ec2.Peer.ipv4(rule.cidr), ec2.Port.tcp(rule.port), rule.description);
    }
    return sg;
  }

  /**
   * The single server's UserData stub with a fleet's settings: the metadata lives on the launch template, the
   * boot signals the group (cfn-signal), ufw admits SSH and HTTP only. Constant once deployed (the group's
   * logical ID and the bucket's name do not change), so a `cdk deploy` does not roll the servers.
   */
  private renderUserData(props: FleetServersProps): string {
    const stack = Stack.of(this);
    const templateId = Lazy.string({ produce: () => stack.getLogicalId(this.launchTemplate.node.defaultChild as CfnResource) });
    const groupId = Lazy.string({ produce: () => stack.getLogicalId(this.group.node.defaultChild as CfnResource) });
    return renderUserData(readUserDataStub(), {
      ...serverUserDataSettings(templateId),
      publicPorts: [...ingressPorts('school'), HTTP_PORT],
      fleet: {
        signalResource: groupId,
        storeBucket: props.releasesBucket.bucketName,
        parameterPrefix: secretsParameterPrefix(stack),
        convergedMarker: join(dirname(EC2_PATHS.caddyfile), CONVERGED_MARKER_FILE),
      },
    });
  }

  /**
   * ELB health checks after a grace period that covers a boot; creation waits for every server's signal;
   * an update replaces one server at a time and waits for its signal, keeping at least one in service
   * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatepolicy.html).
   * With either policy CloudFormation "suspends work on the stack until the resource receives the required
   * number of signals or until the timeout period is exceeded" (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/cfn-signal.html).
   * MinInstancesInService "must be less than the MaxSize of the Auto Scaling group" (the UpdatePolicy page above;
   * the update fails otherwise, https://github.com/awsdocs/aws-cloudformation-user-guide/pull/164), so with no
   * room above the minimum one server at a time is out of service; with room, a new one starts before an old
   * one stops. PauseTime is at most one hour (PT1H, the same page; bootTimeout's 20 minutes fit). aws-cdk-lib
   * suspends HealthCheck, ReplaceUnhealthy, AZRebalance, AlarmNotification, ScheduledActions and InstanceRefresh
   * during the update (seen in the synthesized template), as that page advises (SuspendProcesses), so a
   * scaling alarm cannot disturb a rolling update.
   */
  private autoScalingGroup(props: FleetServersProps, bootTimeout: Duration): autoscaling.AutoScalingGroup {
    const minInService = props.maxServers > props.minServers ? props.minServers : props.minServers - 1;
    return new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      launchTemplate: this.launchTemplate,
      minCapacity: props.minServers,
      maxCapacity: props.maxServers,
      // With ELB health checks, a server the load balancer reports unhealthy is replaced, not only taken out of
      // rotation ("When Amazon EC2 Auto Scaling determines that an InService instance is unhealthy, it replaces
      // it", https://docs.aws.amazon.com/autoscaling/ec2/userguide/healthcheck.html): a running server's health
      // answer must never stay 503 for long. The grace period keeps the group from replacing a server whose
      // checks fail only because it is still booting (https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html).
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
        gracePeriod: bootTimeout,
      }),
      signals: autoscaling.Signals.waitForMinCapacity({ timeout: bootTimeout }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: minInService,
        waitOnResourceSignals: true,
        pauseTime: bootTimeout,
      }),
    });
  }

  private acknowledgeFindings(bucket: s3.IBucket): void {
    const stack = Stack.of(this);
    const bucketId = bucket.node.defaultChild ? stack.getLogicalId(bucket.node.defaultChild as CfnResource) : bucket.bucketName;
    Validations.of(this.role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
        reason: 'Read only (s3:GetObject) on the objects of this stack\'s own releases bucket: every server must be able to fetch any release the manifest names.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/portside/<stack>/*]'
          .replace('<stack>', stack.stackName),
        reason: 'Read only (ssm:GetParameter/GetParameters) under this stack\'s own prefix: each service\'s env file is one parameter, and services are added by deploys, not by the stack.',
      },
    );
    Validations.of(this.group).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'Scaling notifications need an SNS topic and a subscriber; the stack events and the deploy CLI (services, doctor) show the fleet.',
    });
  }
}

/** The group's sizes: a fleet has at least two servers and may not shrink below its minimum. */
function checkCounts(min: number, max: number): void {
  if (!Number.isInteger(min) || min < 2) throw new Error(`minServers: a fleet has at least 2 servers, got ${min}; one server is the single-server stack (servers=1)`);
  if (!Number.isInteger(max) || max < min) throw new Error(`maxServers must be a whole number of at least minServers (${min}), got ${max}`);
}

