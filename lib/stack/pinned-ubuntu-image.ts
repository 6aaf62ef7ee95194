import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** Canonical's public SSM parameter for the current Ubuntu 24.04 LTS server AMI of an architecture. */
export function ubuntuAmiParameter(arch: 'amd64' | 'arm64'): string {
  return `/aws/service/canonical/ubuntu/server/24.04/stable/current/${arch}/hvm/ebs-gp3/ami-id`;
}

/** Props of {@link PinnedUbuntuImage}. */
export interface PinnedUbuntuImageProps {
  /**
   * The CPU architecture the instance type needs.
   * @default ec2.InstanceArchitecture.X86_64
   */
  readonly architecture?: ec2.InstanceArchitecture;
}

/**
 * Ubuntu 24.04 LTS, resolved ONCE, when this construct is created, and kept.
 *
 * `MachineImage.fromSsmParameter` makes CloudFormation re-read the parameter at every deploy, so a new
 * Canonical image would replace the server (and lose everything deployed on it). Here a custom resource
 * reads the parameter when it is created; CloudFormation stores the answer, and later deploys, which do not
 * change the resource's properties, never ask again. To move to a newer image on purpose, create a new one
 * of these under a new construct ID (see `WebServerProps.imageGeneration`).
 *
 * Its properties never change, so CloudFormation never sends it an Update (it does whenever a custom
 * resource's properties change, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html).
 * No Update answer could keep the pin: this resource remembers only the parameter's name, so an `onUpdate`
 * that repeats the lookup answers Canonical's *newest* image, a new ImageId, and CloudFormation replaces the
 * server with an empty one; without `onUpdate` the answer has no `Parameter.Value` and the deploy fails.
 * Stacks deployed by older Portside versions hold exactly `Create`, `InstallLatestAwsSdk` and `ServiceToken`:
 * adding an `Update` property would itself send them an Update. So: an architecture change makes a new
 * resource (a new construct ID, see `WebServer`), and test/stack/upgrade-path.test.ts pins every property
 * against the template of an older Portside, so a CDK upgrade that would serialise the call differently fails
 * the tests instead of a student's deploy.
 */
export class PinnedUbuntuImage extends Construct implements ec2.IMachineImage {
  /** The AMI ID as a token (the custom resource's `Parameter.Value`). */
  public readonly imageId: string;
  public readonly parameterName: string;
  /** The Lambda-backed resource that did the lookup, for cdk-nag acknowledgements. */
  public readonly resolver: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: PinnedUbuntuImageProps = {}) {
    super(scope, id);
    const arch = props.architecture === ec2.InstanceArchitecture.ARM_64 ? 'arm64' : 'amd64';
    this.parameterName = ubuntuAmiParameter(arch);
    const lookup: cr.AwsSdkCall = {
      service: 'SSM',
      action: 'getParameter',
      parameters: { Name: this.parameterName },
      physicalResourceId: cr.PhysicalResourceId.of(this.parameterName),
    };
    this.resolver = new cr.AwsCustomResource(this, 'Resolve', {
      onCreate: lookup,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({
        resources: [
          Stack.of(this).formatArn({
            service: 'ssm', account: '', resource: 'parameter', resourceName: this.parameterName.slice(1),
          }),
        ],
      }),
      // The SDK in the Lambda runtime can call ssm:GetParameter; downloading a newer one would need
      // the internet at deploy time and would change the resource's properties between CDK versions.
      installLatestAwsSdk: false,
    });
    this.imageId = this.resolver.getResponseField('Parameter.Value');
  }

  public getImage(_scope: Construct): ec2.MachineImageConfig {
    return { imageId: this.imageId, osType: ec2.OperatingSystemType.LINUX, userData: ec2.UserData.forLinux() };
  }
}
