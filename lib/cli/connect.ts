import { openSsh, SshSession } from '../ssh';
import { resolveTarget } from '../targets/resolve-target';
import { CommandContext } from './command';

/** The options every server command takes, for node:util parseArgs. */
export const TARGET_OPTIONS = {
  target: { type: 'string' },
  host: { type: 'string' },
  user: { type: 'string' },
  key: { type: 'string' },
} as const;

export const TARGET_USAGE = `Reaching the server:
  --target aws|local   where the server is (also PORTSIDE_TARGET); default aws
  --host HOST[:PORT]   connect to this address instead of looking the server up
  --user USER          SSH user (default ubuntu)
  --key FILE           private key (also PORTSIDE_KEY); on AWS the created key pair is fetched once from SSM`;

export interface Connected {
  readonly ssh: SshSession;
  /** The address users reach the server at (for URLs when there is no domain). */
  readonly address: string;
  readonly kind: string;
}

/** Resolve the target and open the command's one SSH connection. */
export async function connect(ctx: CommandContext, values: { target?: string; host?: string; user?: string; key?: string }): Promise<Connected> {
  const target = await resolveTarget({ target: values.target, host: values.host, user: values.user, key: values.key, env: ctx.env, log: ctx.err });
  const ssh = await openSsh(target);
  return { ssh, address: target.host, kind: target.kind };
}

/** Run `fn` with a connection, closing it whatever happens. */
export async function withServer<T>(ctx: CommandContext, values: Parameters<typeof connect>[1], fn: (c: Connected) => Promise<T>): Promise<T> {
  const c = await connect(ctx, values);
  try {
    return await fn(c);
  } finally {
    await c.ssh.close().catch(() => {});
  }
}
