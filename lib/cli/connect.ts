import type { SshSession } from '../ssh';
import { UsageError } from '../errors';
import { CommandContext } from './command';

/** The options every server command takes, for node:util parseArgs. */
export const TARGET_OPTIONS = {
  target: { type: 'string' },
  host: { type: 'string' },
  user: { type: 'string' },
  key: { type: 'string' },
} as const;

/** The help lines for TARGET_OPTIONS, the same in every command's usage. */
export const TARGET_USAGE = `Reaching the server:
  --target aws|local   where the server is (also PORTSIDE_TARGET); default aws
  --host HOST[:PORT]   connect to this address instead of looking the server up
  --user USER          SSH user (default ubuntu)
  --key FILE           private key (also PORTSIDE_KEY); on AWS the created key pair is fetched once from SSM`;

/** Where the server is, as typed (every field optional: see resolveTarget for the defaults). */
export interface TargetValues {
  readonly target?: string;
  readonly host?: string;
  readonly user?: string;
  readonly key?: string;
}

export interface Connected {
  readonly ssh: SshSession;
  /** The address users reach the server at (for URLs when there is no domain). */
  readonly address: string;
  readonly kind: string;
}

/**
 * --target and --host are arguments like any other: a typo in them is a usage error (exit 2), found
 * before anything is looked up. resolveTarget applies the same rules (it also reads PORTSIDE_TARGET).
 */
export async function checkTargetOptions(values: TargetValues): Promise<void> {
  // The targets' module loads ssh2: imported here, not at the top, so `portside <command> --help` stays light.
  const { TARGET_KINDS, parseHostPort } = await import('../targets/resolve-target');
  if (values.target !== undefined && !(TARGET_KINDS as readonly string[]).includes(values.target)) {
    throw new UsageError(`--target: "${values.target}" is not a target; use ${TARGET_KINDS.join('|')} (or --host <address> for any server)`);
  }
  if (values.host !== undefined) {
    try {
      parseHostPort(values.host);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
}

/**
 * The AWS SDK warns on every run that its releases from 2027 on need Node 22: news for Portside's
 * maintainers (package.json engines), not for someone deploying. The SDK's own switch turns it off
 * (aws/aws-sdk-js-v3#7983), only where Portside loads the SDK and only if the user has not set it.
 */
export function quietAwsSdkNodeNotice(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/** Resolve the target and open the command's one SSH connection. */
export async function connect(ctx: CommandContext, values: TargetValues): Promise<Connected> {
  await checkTargetOptions(values);
  if (values.host === undefined && (values.target ?? ctx.env.PORTSIDE_TARGET ?? 'aws') === 'aws') quietAwsSdkNodeNotice();
  const [{ resolveTarget }, { openSsh }] = await Promise.all([import('../targets/resolve-target'), import('../ssh')]);
  const target = await resolveTarget({ target: values.target, host: values.host, user: values.user, key: values.key, env: ctx.env, log: ctx.err });
  const ssh = await openSsh(target);
  return { ssh, address: target.host, kind: target.kind };
}

/** Run `fn` with a connection, closing it whatever happens. */
export async function withServer<T>(ctx: CommandContext, values: TargetValues, fn: (c: Connected) => Promise<T>): Promise<T> {
  const c = await connect(ctx, values);
  try {
    return await fn(c);
  } finally {
    await c.ssh.close().catch(() => {});
  }
}
