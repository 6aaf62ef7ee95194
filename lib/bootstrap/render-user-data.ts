/**
 * The EC2 UserData: a few constant settings, then the stub assets/user-data.sh, which fetches
 * assets/bootstrap.sh from the instance's CloudFormation metadata and runs it. Pure, so tests can pin the text.
 *
 * Everything here must stay the same when the declared configuration or the bootstrap changes: a different
 * UserData stops the instance on the next deploy. Both reach the server through the metadata instead.
 *
 * What the stub relies on (cited here: every byte of the stub counts against USER_DATA_MAX_BYTES):
 * - "User data is limited to 16 KB, in raw form, before it is base64-encoded"; it can be modified only while
 *   the instance is stopped, and a modified user data is not run at the next start
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html).
 * - A user-data script runs once per instance, late in boot, as cloud-init's `scripts_user` module in its final
 *   stage (https://docs.cloud-init.io/en/latest/explanation/format.html#user-data-script), and
 *   `cloud-init status --wait` blocks until cloud-init has finished
 *   (https://docs.cloud-init.io/en/latest/reference/cli.html#status). That the two together would wait for
 *   each other is our reading, not a documented statement; so the stub re-runs itself as a transient systemd
 *   unit (https://www.freedesktop.org/software/systemd/man/latest/systemd-run.html) ordered after cloud-final,
 *   and the boot rehearsal (lib/rehearse) checks that order only against a stand-in.
 * - The wait condition's signal is a JSON PUT {Status, Reason, UniqueId, Data} to the handle's presigned URL,
 *   with an empty Content-Type (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-waitcondition.html).
 */

/** The metadata key on the instance under which assets/bootstrap.sh travels (`{ version: 1, script }`). */
export const BOOTSTRAP_METADATA_KEY = 'PortsideBootstrap';

/** The metadata key on a fleet's launch template under which the converge hook travels (`{ version: 1, script }`). */
export const CONVERGE_METADATA_KEY = 'PortsideConverge';

/** UserData's budget: EC2 allows 16 KB; the stub stays far below so it never needs to grow into it. */
export const USER_DATA_MAX_BYTES = 4096;

/** What the bootstrap needs to know on EC2 that the script cannot find out for itself. */
export interface UserDataSettings {
  /** The stack's name (usually the `AWS::StackName` token): where cfn-get-metadata and cfn-signal look. */
  readonly stackName: string;
  /** The stack's region (usually the `AWS::Region` token). */
  readonly region: string;
  /** The instance's logical ID in the template: the resource that carries the metadata and is signalled. */
  readonly logicalId: string;
  /** The metadata key holding the declared files. */
  readonly metadataKey: string;
  /** The metadata key holding the bootstrap script. */
  readonly bootstrapKey: string;
  /**
   * The boot wait condition handle's presigned URL (usually a `Ref` token): where the boot's signal goes.
   * @default - none: a fleet server signals its Auto Scaling group instead (`fleet.signalResource`)
   */
  readonly signalUrl?: string;
  /**
   * A fleet server's settings (an instance of an Auto Scaling group behind a load balancer).
   * @default - none: a single server
   */
  readonly fleet?: FleetUserDataSettings;
  /** The deploy user: owns the layout and runs pm2. */
  readonly user: string;
  /** The static site's folder. */
  readonly www: string;
  /** The folder of the live Caddyfile (owned by the deploy user). */
  readonly caddyDir: string;
  /** TCP ports ufw lets in; the security group is derived from the same port model. */
  readonly publicPorts: readonly number[];
}

/** What a fleet server's bootstrap needs besides a single server's (see the fleet contract, issue #10). */
export interface FleetUserDataSettings {
  /** The Auto Scaling group's logical ID: the bootstrap signals it with `cfn-signal --resource`. */
  readonly signalResource: string;
  /** The releases bucket (usually a `Ref` token) a server converges from. */
  readonly storeBucket: string;
  /** Where the servers' secrets live in Parameter Store: `/portside/<stack>` (`<prefix>/<service>/env`). */
  readonly parameterPrefix: string;
  /** The converge marker's absolute path (beside the live Caddyfile): the health check answers 200 while it exists. */
  readonly convergedMarker: string;
}

/** The bootstrap's own first line, replaced by the wrapper's. */
const SHEBANG = /^#!.*\n/;

/**
 * Render the UserData: the wrapper's shebang and exports, then the stub's body.
 * Values are single-quoted; tokens (`${Token[...]}`) pass through and resolve to plain names.
 */
export function renderUserData(script: string, settings: UserDataSettings): string {
  if (!SHEBANG.test(script)) throw new Error('the UserData stub must start with a #! line');
  const vars: Array<[string, string]> = [
    ['PORTSIDE_STACK', settings.stackName],
    ['PORTSIDE_REGION', settings.region],
    ['PORTSIDE_RESOURCE', settings.logicalId],
    ['PORTSIDE_METADATA_KEY', settings.metadataKey],
    ['PORTSIDE_BOOTSTRAP_KEY', settings.bootstrapKey],
    ...(settings.signalUrl === undefined ? [] : [['PORTSIDE_SIGNAL_URL', settings.signalUrl] as [string, string]]),
    ['PORTSIDE_USER', settings.user],
    ['PORTSIDE_WWW', settings.www],
    ['PORTSIDE_CADDY_DIR', settings.caddyDir],
    ['PORTSIDE_PUBLIC_PORTS', settings.publicPorts.join(' ')],
    ...fleetVars(settings.fleet),
  ];
  if ((settings.signalUrl === undefined) === (settings.fleet === undefined)) {
    throw new Error('UserData: give exactly one way to signal the boot: signalUrl (a single server) or fleet.signalResource (a fleet)');
  }
  const lines = [
    '#!/bin/bash',
    '# Portside UserData: constant settings, then assets/user-data.sh (the rest is in the metadata).',
    ...vars.map(([name, value]) => `export ${name}=${shellQuote(name, value)}`),
  ];
  return `${lines.join('\n')}\n${script.replace(SHEBANG, '')}`;
}

/**
 * A fleet server's exports. Its boot signals the Auto Scaling group with cfn-signal (SignalResource: what a
 * group's CreationPolicy and a rolling update's WaitOnResourceSignals count). The stub's own failure signal
 * needs a wait-condition URL, which a fleet has none of: a failure before assets/bootstrap.sh starts is not
 * signalled, and CloudFormation waits for the creation policy's timeout instead.
 */
function fleetVars(fleet: FleetUserDataSettings | undefined): Array<[string, string]> {
  if (!fleet) return [];
  return [
    ['PORTSIDE_SIGNAL_RESOURCE', fleet.signalResource],
    ['PORTSIDE_STORE_BUCKET', fleet.storeBucket],
    ['PORTSIDE_PARAMETER_PREFIX', fleet.parameterPrefix],
    ['PORTSIDE_CONVERGED_MARKER', fleet.convergedMarker],
    ['PORTSIDE_CONVERGE_KEY', CONVERGE_METADATA_KEY],
  ];
}

function shellQuote(name: string, value: string): string {
  if (value.length === 0 || /['\n\r\0]/.test(value)) {
    throw new Error(`UserData setting ${name} must be a non-empty single line without quotes, got ${JSON.stringify(value)}`);
  }
  return `'${value}'`;
}
