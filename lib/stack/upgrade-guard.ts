import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, CustomResource, Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { BOOTSTRAP_METADATA_KEY } from '../bootstrap';
import { PACKAGE_ROOT } from '../package-root';
import { SAVE_DEPLOYED_TEMPLATE } from './legacy-server';

/** The guard's handler, inline in the template (a Lambda `ZipFile`, so `cdk synth` stays offline and asset-free). */
export function readUpgradeGuardHandler(): string {
  return readFileSync(join(PACKAGE_ROOT, 'lib', 'stack', 'upgrade-guard.py'), 'utf8');
}

/** What the guard says when it refuses: the cause and the two commands that fix it. */
export function upgradeGuardRefusal(): string {
  return 'This stack\'s server was created by an older Portside (its UserData carries the whole bootstrap). '
    + 'Deploying this version as is would stop it and then wait 15 minutes for a boot signal it never sends. '
    + `The update rolls back before the server is touched. Save the deployed template and deploy with it: ${SAVE_DEPLOYED_TEMPLATE} `
    + '&& npx cdk deploy -c legacyTemplate=portside-deployed.json (docs/aws.md, "Upgrading a stack deployed with an older Portside").';
}

/** Props of {@link UpgradeGuard}. */
export interface UpgradeGuardProps {
  /** The instance's logical ID: the resource whose deployed metadata tells an older server from a new one. */
  readonly instanceLogicalId: string;
}

/**
 * A custom resource that the instance depends on, so CloudFormation creates it before it creates or updates
 * the instance. It is created once: with a new stack (no instance yet: it passes), or by the first deploy of
 * this version over a stack that an older Portside created. There it finds the deployed instance without
 * PortsideBootstrap metadata and fails, and the update rolls back before the instance is touched, with the
 * fix in the stack event, instead of stopping the server and waiting 15 minutes for a signal.
 * Stacks deployed with `-c legacyTemplate` do not get one (their server is the older kind on purpose).
 */
export class UpgradeGuard extends Construct {
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: UpgradeGuardProps) {
    super(scope, id);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Portside upgrade guard: read the server\'s CloudFormation metadata',
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['cloudformation:DescribeStackResource'], resources: [Aws.STACK_ID] }));
    const fn = new lambda.Function(this, 'Function', {
      runtime: lambda.Runtime.PYTHON_3_14,
      handler: 'index.handler',
      code: lambda.Code.fromInline(readUpgradeGuardHandler()),
      role,
      timeout: Duration.seconds(60),
      description: 'Portside upgrade guard (runs once per stack)',
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::PortsideUpgradeGuard',
      properties: {
        InstanceLogicalId: props.instanceLogicalId,
        BootstrapKey: BOOTSTRAP_METADATA_KEY,
        RefusalReason: upgradeGuardRefusal(),
      },
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'The upgrade guard runs once per stack, at its creation, on python3.14; cdk-nag asks for the newest Python in aws-cdk-lib\'s list (3.15), which this project has not run.',
    });
  }
}
