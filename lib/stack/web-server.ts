import { dirname } from 'node:path';
import { Aws, CfnResource, CfnWaitCondition, CfnWaitConditionHandle, Duration, Lazy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  BOOTSTRAP_METADATA_KEY, readUserDataStub, renderUserData, SEED_METADATA_KEY, SeedFiles, seedMetadata, UserDataSettings,
} from '../bootstrap';
import { ingressPorts } from '../ports';
import { EC2_PATHS } from '../registry';
import { ingressRules } from './ingress-rules';
import { LegacyServer } from './legacy-server';
import { UpgradeGuard } from './upgrade-guard';
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

  /**
   * The bootstrap script (assets/bootstrap.sh). It travels in the instance's metadata; the constant UserData
   * stub (assets/user-data.sh) fetches and runs it, so a new bootstrap never stops the instance.
   */
  readonly bootstrapScript: string;

  /**
   * The EC2 instance type. Changing it later stops and starts the instance (same disk, same IP), except
   * between x86 and Graviton (arm64): another image, so a new, empty server.
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
   * How long CloudFormation waits for the bootstrap to report that Caddy answers. A failed bootstrap
   * reports at once, with its reason; only a server that never reports waits this long.
   * @default Duration.minutes(15)
   */
  readonly bootstrapTimeout?: Duration;

  /**
   * CPU credits of a burstable (T) instance type. Ignored for other types.
   * @default ec2.CpuCredits.STANDARD - no surprise charges when busy (T3 launches unlimited otherwise:
   * RunInstances' CreditSpecification "Default: standard (T2 instances) or unlimited (T3/T3a/T4g instances)",
   * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html)
   */
  readonly cpuCredits?: ec2.CpuCredits;

  /**
   * The server of a stack deployed by a Portside from before the UserData stub, read from the deployed
   * template (`legacyServerFromTemplate`). Its UserData and CreationPolicy are kept exactly as deployed and no
   * boot wait condition is added, so the upgrade neither stops the server nor waits for a signal it cannot
   * send. Such a server keeps the bootstrap it booted with.
   * @default - a server that boots the UserData stub and signals a wait condition
   */
  readonly legacyServer?: LegacyServer;
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
  /** The boot wait condition's handle (its `Ref` is the presigned URL the boot signals); none for a legacy server. */
  public readonly bootSignal?: CfnWaitConditionHandle;
  /** The wait condition that fails the deploy with the boot's reason, or after `bootstrapTimeout`; none for a legacy server. */
  public readonly bootWait?: CfnWaitCondition;

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

    const legacy = props.legacyServer;
    const imageId = imageConstructId(generation, instanceType.architecture, legacy !== undefined);
    this.image = new PinnedUbuntuImage(this, imageId, { architecture: instanceType.architecture });
    // An older server stays as it was deployed, unless this deploy replaces it anyway (a new image: a raised
    // imageGeneration): then the new server boots the stub like any other.
    const kept = legacy && sameJson(stack.resolve(this.image.imageId), legacy.imageId) ? legacy : undefined;

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: kept
        ? 'Portside web server: read its own CloudFormation metadata and signal its creation'
        : 'Portside web server: read its own CloudFormation metadata',
    });
    // Only this stack: cfn-get-metadata and cfn-hup read the metadata. The boot signal needs no permission
    // (a presigned URL), except a legacy server's: its bootstrap, should it ever boot a replacement, calls
    // `cfn-signal --resource` (SignalResource).
    this.role.addToPolicy(kept ? readMetadataStatement(['cloudformation:SignalResource']) : readMetadataStatement());

    ({ keyPair: this.keyPair, privateKeyParameterName: this.privateKeyParameterName } = serverKeyPair(this, props.sshPublicKey));

    // The boot's signal: a wait condition, whose signal carries a reason (SignalResource, what
    // `cfn-signal --resource` calls, has none). It is named after the image, so a new server (new image or
    // architecture) gets a new one, and a Portside upgrade none: "Anytime you add a WaitCondition resource
    // during a stack update, you must associate the wait condition with a new WaitConditionHandle resource",
    // and its properties cannot be updated ("Updates aren't supported",
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-waitcondition.html).
    // A legacy server gets none: it was created long ago and would never signal (see LegacyServer).
    if (!kept) {
      this.bootSignal = new CfnWaitConditionHandle(this, `Boot${imageId}Handle`);
      this.bootWait = new CfnWaitCondition(this, `Boot${imageId}Wait`, {
        handle: this.bootSignal.ref,
        count: 1,
        timeout: String((props.bootstrapTimeout ?? Duration.minutes(15)).toSeconds()),
      });
    }

    // The instance's own logical ID, known only once it exists; it is a constant string in the template.
    const logicalId = Lazy.string({ produce: () => stack.getLogicalId(this.instance.instance) });
    const userData = kept ? ec2.UserData.custom('') : ec2.UserData.custom(renderUserData(readUserDataStub(), {
      ...serverUserDataSettings(logicalId),
      signalUrl: this.bootSignal!.ref,
      publicPorts: [...ingressPorts('school'), ...ingressPorts('world')],
    }));

    this.instance = new ec2.Instance(this, instanceConstructId(imageId), {
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
      blockDevices: [rootVolume(rootVolumeGiB)],
      propagateTagsToVolumeOnCreation: true,
      userDataCausesReplacement: false,
      // CDK refuses credits on a type that has none.
      creditSpecification: instanceType.isBurstable() ? (props.cpuCredits ?? ec2.CpuCredits.STANDARD) : undefined,
    });
    const cfnInstance = this.instance.instance;
    cfnInstance.addMetadata(SEED_METADATA_KEY, seedMetadata(props.seed));
    if (kept) checkLegacyInstanceId(cfnInstance, kept, stack);
    if (kept) {
      keepLegacyBoot(cfnInstance, kept);
    } else {
      cfnInstance.addMetadata(BOOTSTRAP_METADATA_KEY, { version: 1, script: props.bootstrapScript });
      // The wait starts once the instance exists: its timeout counts the boot, not the launch.
      this.bootWait!.addResourceDependency(cfnInstance);
    }
    if (!legacy) {
      const guard = new UpgradeGuard(this, 'UpgradeGuard', { instanceLogicalId: logicalId });
      cfnInstance.addResourceDependency(guard.resource.node.defaultChild as CfnResource);
    }
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

/**
 * The server's SSH key pair: the student's public key, or one AWS creates (ed25519; its private key in SSM
 * Parameter Store). Construct IDs are part of the contract: a new one is a new key pair and a new server.
 */
export function serverKeyPair(scope: Construct, sshPublicKey?: string): { keyPair: ec2.KeyPair; privateKeyParameterName?: string } {
  if (sshPublicKey) return { keyPair: new ec2.KeyPair(scope, 'ImportedKeyPair', { publicKeyMaterial: sshPublicKey }) };
  const keyPair = new ec2.KeyPair(scope, 'KeyPair', { type: ec2.KeyPairType.ED25519 });
  return { keyPair, privateKeyParameterName: `/ec2/keypair/${keyPair.keyPairId}` };
}

/** The root volume every Portside server boots from: encrypted gp3 on Ubuntu's device, gone with the server. */
export function rootVolume(sizeGiB: number): ec2.BlockDevice {
  return {
    deviceName: '/dev/sda1',
    volume: ec2.BlockDeviceVolume.ebs(sizeGiB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true, deleteOnTermination: true }),
  };
}

/**
 * What a server's role needs to boot and follow `cdk deploy`: cfn-get-metadata and cfn-hup read the metadata
 * of this stack only (`extra` for a legacy server's cfn-signal).
 */
export function readMetadataStatement(extra: readonly string[] = []): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: ['cloudformation:DescribeStackResource', ...extra], resources: [Aws.STACK_ID] });
}

/** The UserData settings every Portside server shares; `logicalId` is the resource whose metadata it boots from. */
export function serverUserDataSettings(logicalId: string): Pick<UserDataSettings, 'stackName' | 'region' | 'logicalId' | 'metadataKey' | 'bootstrapKey' | 'user' | 'www' | 'caddyDir'> {
  return {
    stackName: Aws.STACK_NAME,
    region: Aws.REGION,
    logicalId,
    metadataKey: SEED_METADATA_KEY,
    bootstrapKey: BOOTSTRAP_METADATA_KEY,
    user: DEPLOY_USER,
    www: EC2_PATHS.www,
    caddyDir: dirname(EC2_PATHS.caddyfile),
  };
}

/**
 * The pinned image's construct ID, part of the contract: a new ID is a new lookup and a new server.
 * Generation 1 on x86 keeps the ID it always had. Graviton gets its own ID (an architecture change is a new
 * resource, never an Update of the old one: see PinnedUbuntuImage), except on a legacy server, whose
 * Portside named every generation-1 image `Image`.
 */
export function imageConstructId(generation: number, architecture: ec2.InstanceArchitecture, legacy: boolean): string {
  const base = generation === 1 ? 'Image' : `ImageGeneration${generation}`;
  return architecture === ec2.InstanceArchitecture.ARM_64 && !legacy ? `${base}Arm64` : base;
}

/**
 * The instance's construct ID follows the image's: a new generation or architecture is a new instance
 * resource, so the server is replaced even when the new lookup answers the same AMI as the old one. Without
 * this, a same-AMI deploy would keep the running instance and add a new boot wait condition that it never
 * signals (UserData runs only on an instance's first boot): a 15-minute wait, then a rollback. The first
 * generation on x86 keeps the ID every server has had.
 */
function instanceConstructId(imageId: string): string {
  return imageId === 'Image' ? 'Instance' : `Instance${imageId.replace(/^Image/, '')}`;
}

/** The deployed instance must be this version's: kept under another logical ID, it would be a new server. */
function checkLegacyInstanceId(instance: ec2.CfnInstance, legacy: LegacyServer, stack: Stack): void {
  const logicalId = stack.getLogicalId(instance);
  if (logicalId !== legacy.instanceLogicalId) {
    throw new Error(`legacyTemplate: the deployed instance is ${legacy.instanceLogicalId}, this version's is ${logicalId}; keeping its UserData under another ID would replace the server. Check that the file is this stack's template.`);
  }
}

/** A legacy server's UserData and CreationPolicy, byte for byte as deployed (see LegacyServer). */
function keepLegacyBoot(instance: ec2.CfnInstance, legacy: LegacyServer): void {
  instance.addPropertyOverride('UserData', legacy.userData);
  const signal = legacy.creationPolicy.ResourceSignal;
  instance.cfnOptions.creationPolicy = { resourceSignal: { count: signal.Count, timeout: signal.Timeout } };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
