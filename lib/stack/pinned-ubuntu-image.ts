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
 * An update (its properties changed: the architecture, or a CDK upgrade that serialises the call
 * differently; CloudFormation sends a custom resource an Update request whenever its properties change,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html)
 * reads the parameter again with the same call: without `onUpdate` the update would answer
 * with no data and `Parameter.Value` would fail the deploy. An architecture change names another parameter,
 * so another image and a new server, as the docs say; the stack tests pin the call's text so that a CDK
 * upgrade which would change it (and so re-read the image) shows up in review.
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
      onUpdate: lookup,
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
