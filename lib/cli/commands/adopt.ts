import { parseArgs } from 'node:util';
import type { AdoptPlan, Refusal } from '../../adopt';
import { EXIT, UsageError, UserError } from '../../errors';
import { Command, CommandContext } from '../command';
import { printJson } from '../output';

const USAGE = `Usage: portside adopt --host HOST[:PORT] [--user USER] --key FILE --dry-run [--json]

Reads a server you built by hand (Caddy from a Caddyfile, services started with pm2, Node from nvm
or the system) and prints how Portside would take it over: each service (name, port, folder, pm2
process, the names that reach it, the directives on its site), the static site, what Portside keeps
verbatim (global options, sites and directives its renderer cannot write), and every problem (a
route to a port nothing listens on, a process no route reaches, Caddy and pm2 disagreeing on a
port, a duplicate site, a service port reachable from outside, tried from here). It only reads: the Caddyfile Caddy
was started with (as \`caddy adapt\` parses it) and the configuration Caddy runs, \`pm2 jlist\` run with
the Node pm2's daemon runs on, the listening sockets, ~/services and the static root.

Applying the plan is not built yet: without --dry-run adopt refuses and changes nothing.

  --host HOST[:PORT]   the server's address (SSH port 22 unless given)
  --user USER          SSH user (default ubuntu)
  --key FILE           its private key (also PORTSIDE_KEY); the host key is pinned on first use
                       in ~/.portside/known_hosts and checked on every later connection
  --dry-run            print the plan; change nothing
  --json               print the plan as one JSON document: {"services": [{name, port, …}], "problems": [{kind, message, fix, …}], …}

Exit status: 0 the plan was printed; 1 the server cannot be adopted (what was found and what to do
are printed), or applying was asked for; 2 the command line is wrong.

Examples:
  npx portside adopt --host 203.0.113.7 --key ~/keys/course.pem --dry-run
  npx portside adopt --host 203.0.113.7 --key ~/keys/course.pem --dry-run --json | jq '.problems[].message'`;

const USER_PATTERN = /^[a-z_][a-z0-9_.-]{0,31}$/i;

interface Args {
  readonly host: string;
  readonly user?: string;
  readonly key?: string;
  readonly dryRun: boolean;
  readonly json: boolean;
}

export const adoptCommand: Command = {
  usage: USAGE,
  async run(ctx) {
    const args = parseAdoptArgs(ctx);
    if (!args.dryRun) {
      throw new UserError('applying an adoption is not built yet (issue #9): nothing was read or changed on the server',
        `Run the same command with --dry-run to see the plan: portside adopt --host ${args.host} --key <file> --dry-run`);
    }
    return dryRun(ctx, args);
  },
};

/** The arguments, checked before anything connects: the value, the rule and the fix. */
function parseAdoptArgs(ctx: CommandContext): Args {
  const { values } = parseArgs({
    args: [...ctx.argv], strict: true,
    options: { host: { type: 'string' }, user: { type: 'string' }, key: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
  });
  if (values.host === undefined) {
    throw new UsageError('--host is required: adopt reads the server you built, by its address', 'e.g. portside adopt --host 203.0.113.7 --key ~/keys/course.pem --dry-run');
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseHostPort } = require('../../targets/resolve-target') as typeof import('../../targets/resolve-target');
  try {
    parseHostPort(values.host);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.user !== undefined && !USER_PATTERN.test(values.user)) {
    throw new UsageError(`--user: "${values.user}" is not a user name; a login name is letters, digits, "_", "." and "-", starting with a letter or "_" (e.g. ubuntu)`);
  }
  if (values.key === undefined && !ctx.env.PORTSIDE_KEY) {
    throw new UsageError(`--key is required: the private key that logs in to ${values.host}`, 'e.g. --key ~/keys/course.pem (or set PORTSIDE_KEY)');
  }
  return { host: values.host, user: values.user, key: values.key, dryRun: !!values['dry-run'], json: !!values.json };
}

async function dryRun(ctx: CommandContext, args: Args): Promise<number> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { resolveTarget } = require('../../targets/resolve-target') as typeof import('../../targets/resolve-target');
  const { openSsh } = require('../../ssh') as typeof import('../../ssh');
  const { formatPlan, formatRefusal, planAdoption, probeOutside, readServer, refusalOf } = require('../../adopt') as typeof import('../../adopt');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const target = await resolveTarget({ host: args.host, user: args.user, key: args.key, env: ctx.env, log: ctx.err });
  const where = `${target.user}@${target.label ?? target.host}`;
  const ssh = await openSsh(target);
  let facts;
  try {
    ctx.err(`reading ${where} (read only)`);
    facts = await readServer(ssh);
  } finally {
    await ssh.close().catch(() => {});
  }
  const refusal = refusalOf(facts);
  if (refusal) return refuse(ctx, args, refusal, where, formatRefusal);
  const plan = planAdoption(await probeOutside(facts, target.host));
  if (args.json) printJson(ctx, { dryRun: true, applied: false, target: where, ...plan });
  else for (const line of [...formatPlan(plan, where), '', 'Dry run: nothing on the server was changed.']) ctx.out(line);
  return EXIT.ok;
}

function refuse(ctx: CommandContext, args: Args, refusal: Refusal, where: string, format: (r: Refusal, w: string) => string[]): number {
  if (args.json) printJson(ctx, { dryRun: true, applied: false, target: where, refused: refusal });
  else for (const line of format(refusal, where)) ctx.err(line);
  return EXIT.failed;
}

export type { AdoptPlan };
