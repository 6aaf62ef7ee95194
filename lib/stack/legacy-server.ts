import { BOOTSTRAP_METADATA_KEY } from '../bootstrap';
import { DEFAULT_STACK_NAME } from './server-tag';

/**
 * A server created by a Portside from before the UserData stub (before issue #8): its UserData carries the
 * whole bootstrap of that version, and the instance has a CreationPolicy that its boot signalled once with
 * `cfn-signal`. The stack keeps both exactly as deployed, so the upgrade leaves that server running:
 *
 * - a changed UserData is applied by stopping the instance ("You can modify user data only while the instance
 *   is stopped", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html), and a
 *   UserData script is not run again on an existing instance, so the new stub would never run there;
 * - a new wait condition is created with the stack update and waits for a signal ("Anytime you add a
 *   WaitCondition resource during a stack update, you must associate the wait condition with a new
 *   WaitConditionHandle", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-waitcondition.html)
 *   that a running server, booted long ago, never sends: the update would wait 15 minutes and roll back.
 *
 * The CreationPolicy itself is harmless to keep: "The creation policy is invoked only when AWS CloudFormation
 * creates the associated resource" (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-creationpolicy.html).
 */
export interface LegacyServer {
  /** The instance's `UserData` property exactly as deployed (an `Fn::Base64` of the old bootstrap). */
  readonly userData: unknown;
  /** The instance's `CreationPolicy` as deployed, e.g. `{ ResourceSignal: { Count: 1, Timeout: 'PT15M' } }`. */
  readonly creationPolicy: { readonly ResourceSignal: { readonly Count?: number; readonly Timeout?: string } };
  /** The instance's logical ID in the deployed template: it must be the one this version synthesizes. */
  readonly instanceLogicalId: string;
  /**
   * The instance's `ImageId` as deployed (a `Fn::GetAtt` of the pinned image lookup). When this deploy's
   * differs (a raised `imageGeneration`), the server is replaced anyway, and the new one boots the stub.
   */
  readonly imageId: unknown;
}

/** The command that saves what {@link legacyServerFromTemplate} reads (in the fixes of its errors, and the docs). */
export const SAVE_DEPLOYED_TEMPLATE = `aws cloudformation get-template --stack-name ${DEFAULT_STACK_NAME} --query TemplateBody --output json > portside-deployed.json`;

/**
 * Read the deployed server from a deployed template: the output of `aws cloudformation get-template`
 * (`{ TemplateBody: … }`), its `TemplateBody` (an object, or the JSON text of one), or the template itself.
 * Throws, naming the file, the rule and the fix, when it is not a server from before the UserData stub.
 */
export function legacyServerFromTemplate(deployed: unknown, source: string): LegacyServer {
  const template = templateBody(deployed, source);
  const instances = Object.entries<any>(template.Resources ?? {}).filter(([, r]) => r?.Type === 'AWS::EC2::Instance');
  if (instances.length !== 1) {
    throw new Error(`legacyTemplate: ${source} has ${instances.length} AWS::EC2::Instance resources; a Portside stack has exactly one. Save the Portside stack's own template: ${SAVE_DEPLOYED_TEMPLATE}`);
  }
  const [instanceLogicalId, instance] = instances[0];
  if (instance.Metadata?.[BOOTSTRAP_METADATA_KEY] !== undefined) {
    throw new Error(`legacyTemplate: ${source} is already from a Portside whose server boots the UserData stub (its instance has ${BOOTSTRAP_METADATA_KEY} metadata); upgrades of such a stack never stop the server. Deploy without -c legacyTemplate.`);
  }
  const signal = instance.CreationPolicy?.ResourceSignal;
  if (instance.Properties?.UserData === undefined || signal === undefined) {
    throw new Error(`legacyTemplate: ${source}: the instance ${instanceLogicalId} has no UserData or no CreationPolicy, so it is not a server from an older Portside. Save the deployed Portside stack's template: ${SAVE_DEPLOYED_TEMPLATE}`);
  }
  return { userData: instance.Properties.UserData, creationPolicy: { ResourceSignal: signal }, instanceLogicalId, imageId: instance.Properties.ImageId };
}

function templateBody(deployed: unknown, source: string): any {
  let body: any = deployed;
  if (body && typeof body === 'object' && 'TemplateBody' in body) body = body.TemplateBody;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      throw new Error(`legacyTemplate: ${source} holds a template that is not JSON (a YAML one?); Portside templates are JSON. Save it with: ${SAVE_DEPLOYED_TEMPLATE}`);
    }
  }
  if (!body || typeof body !== 'object' || typeof body.Resources !== 'object') {
    throw new Error(`legacyTemplate: ${source} is not a CloudFormation template (no Resources). Save it with: ${SAVE_DEPLOYED_TEMPLATE}`);
  }
  return body;
}
