import type { SshSession } from '../ssh';
import type { ResolvedTarget } from '../targets/resolve-target';
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
  /** Run once the command is over and the session closed: leaves a keeper behind (lib/ssh/keeper) when this was a direct connection. */
  readonly after?: () => void;
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
  const { resolveTarget } = await import('../targets/resolve-target');
  const target = await resolveTarget({ target: values.target, host: values.host, user: values.user, key: values.key, env: ctx.env, log: ctx.err });
  return { ...(await openSession(ctx.env, target)), address: target.host, kind: target.kind };
}

/**
 * The command's session: through the kept connection when one answers in time (and keeping is on:
 * PORTSIDE_SSH_PERSIST, off under CI), else a direct connection that leaves a keeper behind afterwards.
 */
async function openSession(env: NodeJS.ProcessEnv, target: ResolvedTarget): Promise<{ ssh: SshSession; after?: () => void }> {
  const [{ openSsh }, { persistIdleMs }, keep, { describeDestination }] = await Promise.all([
    import('../ssh'), import('../ssh/keeper/setting'), import('../ssh/keeper/keep'), import('../ssh/connect-errors')]);
  const idleMs = persistIdleMs(env);
  const files = idleMs === null ? undefined : keep.keeperFor(target, env);
  const kept = files && await keep.tryKeeper(files, describeDestination(target));
  if (kept) return { ssh: kept };
  const ssh = await openSsh(target);
  if (!files) return { ssh };
  return { ssh, after: () => keep.leaveKeeper(target, files, idleMs!, agentPathOnServer()) };
}

/** The path of this CLI's agent on the server, for the keeper's first standby. */
function agentPathOnServer(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const [{ agentBundle }, { BIN_DIR }] = [require('../deploy/agent-client'), require('../remote/layout')] as [typeof import('../deploy/agent-client'), typeof import('../remote/layout')];
  return `${BIN_DIR}/${agentBundle().version}/agent.js`;
}

/** Run `fn` with a connection, closing it whatever happens. */
export async function withServer<T>(ctx: CommandContext, values: TargetValues, fn: (c: Connected) => Promise<T>): Promise<T> {
  const c = await connect(ctx, values);
  try {
    return await fn(c);
  } finally {
    await c.ssh.close().catch(() => {});
    c.after?.();
  }
}
