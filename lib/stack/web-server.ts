import { dirname } from 'node:path';
import { Aws, Duration, Lazy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { renderUserData, SEED_METADATA_KEY, SeedFiles, seedMetadata } from '../bootstrap';
import { ingressPorts } from '../ports';
import { EC2_PATHS } from '../registry';
import { ingressRules } from './ingress-rules';
import { PinnedUbuntuImage } from './pinned-ubuntu-image';
import { SERVER_TAG_KEY } from './server-tag';

/** The login user of Canonical's Ubuntu images; Portside deploys as this user. */
export const DEPLOY_USER = 'ubuntu';

/** Props of {@link WebServer}. */
export interface WebServerProps {
  /** The VPC; the server goes into its first public subnet. */
  readonly vpc: ec2.IVpc;

  /** CIDRs (IPv4 or IPv6) allowed to reach SSH. None may be a /0. */
  readonly schoolCidrs: readonly string[];

  /**
   * The declared files a new server starts from (registry, Caddyfile, home page). They travel in the
   * instance's CloudFormation metadata, not in UserData, so changing them never stops the instance.
   */
  readonly seed: SeedFiles;

  /** The bootstrap script (assets/bootstrap.sh). */
  readonly bootstrapScript: string;

  /**
   * The EC2 instance type. Changing it later stops and starts the instance (same disk, same IP).
   * @default t3.micro
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * The root volume's size in GiB (encrypted gp3).
   * @default 16
   */
  readonly rootVolumeGiB?: number;

  /**
   * An OpenSSH public key to log in with. Changing it later replaces the key pair and the instance.
   * @default - AWS creates an ed25519 key pair and keeps the private key in SSM Parameter Store at
   *   `/ec2/keypair/<key pair id>`
   */
  readonly sshPublicKey?: string;

  /**
   * Which pinned Ubuntu image to use. The image is looked up once and kept (see PinnedUbuntuImage);
   * raising this number looks up the current image again and REPLACES the server with a new, empty one.
   * @default 1
   */
  readonly imageGeneration?: number;

  /**
   * How long CloudFormation waits for the bootstrap to report that Caddy answers.
   * @default Duration.minutes(15)
   */
  readonly bootstrapTimeout?: Duration;
}

/**
 * One Ubuntu web server: Caddy on 80/443 to the world, SSH to the school only, services on loopback.
 * The instance is built so that later deploys never replace or stop it: its image is pinned, and its
 * UserData holds only constants (the declared configuration arrives through metadata and cfn-hup).
 */
export class WebServer extends Construct {
  public readonly instance: ec2.Instance;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly elasticIp: ec2.CfnEIP;
  /** The server's public IPv4 address (the Elastic IP), as a token. */
  public readonly publicIp: string;
  public readonly keyPair: ec2.KeyPair;
  /** The SSM parameter holding the private key, when AWS created the key pair; else undefined. */
  public readonly privateKeyParameterName?: string;
  public readonly role: iam.Role;
  public readonly image: PinnedUbuntuImage;

  constructor(scope: Construct, id: string, props: WebServerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const generation = props.imageGeneration ?? 1;
    if (!Number.isInteger(generation) || generation < 1) {
      throw new Error(`imageGeneration must be a whole number from 1, got ${generation}`);
    }
    const rootVolumeGiB = props.rootVolumeGiB ?? 16;
    if (!Number.isInteger(rootVolumeGiB) || rootVolumeGiB < 8) {
      throw new Error(`rootVolumeGiB must be a whole number of at least 8 (Ubuntu needs that much), got ${rootVolumeGiB}`);
    }
    const instanceType = props.instanceType ?? new ec2.InstanceType('t3.micro');

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Portside web server: HTTP/HTTPS from anywhere, SSH from the school only',
      allowAllOutbound: true,
    });
    for (const rule of ingressRules(props.schoolCidrs)) {
      const peer = rule.family === 6 ? ec2.Peer.ipv6(rule.cidr) : ec2.Peer.ipv4(rule.cidr);
      this.securityGroup.addIngressRule(peer, ec2.Port.tcp(rule.port), rule.description);
    }
    Validations.of(this.securityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'A public web server: 80 and 443 are open to the world by design; SSH (22) is limited to the school CIDRs.',
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Portside web server: read its own CloudFormation metadata and signal its creation',
    });
    // Only this stack: cfn-get-metadata and cfn-hup read the metadata, cfn-signal reports the bootstrap.
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['cloudformation:DescribeStackResource', 'cloudformation:SignalResource'],
      resources: [Aws.STACK_ID],
    }));

    if (props.sshPublicKey) {
      this.keyPair = new ec2.KeyPair(this, 'ImportedKeyPair', { publicKeyMaterial: props.sshPublicKey });
    } else {
      this.keyPair = new ec2.KeyPair(this, 'KeyPair', { type: ec2.KeyPairType.ED25519 });
      this.privateKeyParameterName = `/ec2/keypair/${this.keyPair.keyPairId}`;
    }

    // Generation 1 keeps the construct ID it always had, so existing servers keep their image.
    this.image = new PinnedUbuntuImage(this, generation === 1 ? 'Image' : `ImageGeneration${generation}`, {
      architecture: instanceType.architecture,
    });

    // The instance's own logical ID, known only once it exists; it is a constant string in the template.
    const logicalId = Lazy.string({ produce: () => stack.getLogicalId(this.instance.instance) });
    const userData = ec2.UserData.custom(renderUserData(props.bootstrapScript, {
      stackName: Aws.STACK_NAME,
      region: Aws.REGION,
      logicalId,
      metadataKey: SEED_METADATA_KEY,
      user: DEPLOY_USER,
      www: EC2_PATHS.www,
      caddyDir: dirname(EC2_PATHS.caddyfile),
      publicPorts: [...ingressPorts('school'), ...ingressPorts('world')],
    }));

    this.instance = new ec2.Instance(this, 'Instance', {
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceType,
      machineImage: this.image,
      userData,
      securityGroup: this.securityGroup,
      role: this.role,
      keyPair: this.keyPair,
      httpTokens: ec2.HttpTokens.REQUIRED,
      httpEndpoint: true,
      blockDevices: [{
        deviceName: '/dev/sda1',
        volume: ec2.BlockDeviceVolume.ebs(rootVolumeGiB, {
          volumeType: ec2.EbsDeviceVolumeType.GP3,
          encrypted: true,
          deleteOnTermination: true,
        }),
      }],
      propagateTagsToVolumeOnCreation: true,
      userDataCausesReplacement: false,
    });
    const cfnInstance = this.instance.instance;
    cfnInstance.addMetadata(SEED_METADATA_KEY, seedMetadata(props.seed));
    cfnInstance.cfnOptions.creationPolicy = {
      resourceSignal: { count: 1, timeout: `PT${(props.bootstrapTimeout ?? Duration.minutes(15)).toMinutes()}M` },
    };
    Tags.of(this.instance).add(SERVER_TAG_KEY, stack.stackName);
    Validations.of(this.instance).acknowledge(
      {
        id: 'AwsSolutions-EC28',
        reason: 'Detailed (1-minute) monitoring costs extra per metric; 5-minute basic monitoring is enough for one course server.',
      },
      {
        id: 'AwsSolutions-EC29',
        reason: 'Termination protection would make `cdk destroy` fail; surprise replacement is prevented by design and by tests instead (pinned image, constant UserData).',
      },
    );

    this.elasticIp = new ec2.CfnEIP(this, 'ElasticIp', {
      domain: 'vpc',
      instanceId: this.instance.instanceId,
      tags: [{ key: SERVER_TAG_KEY, value: stack.stackName }],
    });
    this.publicIp = this.elasticIp.attrPublicIp;
  }
}
