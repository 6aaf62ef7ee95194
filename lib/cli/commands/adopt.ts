import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { AdoptPlan, Refusal } from '../../adopt';
import { EXIT, UsageError, UserError } from '../../errors';
import { Command, CommandContext } from '../command';
import { printJson } from '../output';

const USAGE = `Usage: portside adopt --host HOST[:PORT] [--user USER] --key FILE [--dry-run] [--json]
       portside adopt --undo [--discard-deploys] --host HOST[:PORT] [--user USER] --key FILE

Reads a server you built by hand (Caddy from a Caddyfile, services started with pm2, Node from nvm
or the system) and prints how Portside would take it over: each service (name, port, folder, pm2
process, the names that reach it, the directives on its site), the static site, what Portside keeps
verbatim (global options, sites and directives its renderer cannot write), and every problem (a
route to a port nothing listens on, a process no route reaches, Caddy and pm2 disagreeing on a
port, a duplicate site, a service port reachable from outside, tried from here). It only reads: the Caddyfile Caddy
was started with (as \`caddy adapt\` parses it) and the configuration Caddy runs, \`pm2 jlist\` run with
the Node pm2's daemon runs on, the listening sockets, ~/services and the static root.

Without --dry-run it applies the plan, with no failed request: it records the server as it is
(~/.portside/adopt/before: the Caddyfile's bytes, pm2's list and dump, the folders, the plan) and
refuses if the server changed since it was read; makes each service's first release from its folder
(hard links; the folder's own files stay), then hands each port over (a stand-in on a probe port takes
the traffic, the fork process stops, pm2 starts the release in cluster mode on the same port, Caddy
comes back to it); the static site and the Caddyfile become Portside's (what it cannot write is kept
verbatim; the Caddyfile Caddy starts from imports Portside's).
--undo puts the server back as the record says (the Caddyfile byte for byte, the original pm2 fork
processes, the folders), also with no failed request. It refuses when releases were deployed since
adoption: --discard-deploys undoes anyway, and the code from before adoption runs again.
Both run on the server, under its deploy lock. If this command is killed or its connection is cut,
an adoption stops before its next step and puts the server back (from its last step on, it finishes),
and an undo finishes. The next run prints that run's log (~/.portside-adopt.log on the server).

  --host HOST[:PORT]   the server's address (SSH port 22 unless given)
  --user USER          SSH user (default ubuntu)
  --key FILE           its private key (also PORTSIDE_KEY); the host key is pinned on first use
                       in ~/.portside/known_hosts and checked on every later connection
  --dry-run            print the plan; change nothing
  --undo               put an adopted server back as it was before adoption
  --discard-deploys    with --undo: undo even though releases were deployed since (they stop running)
  --json               print the plan as one JSON document: {"services": [{name, port, …}], "problems": [{kind, message, fix, …}], …}

Exit status: 0 the plan was printed (--dry-run), applied, or the undo finished; 1 the server cannot
be adopted (what was found and what to do are printed), or applying or undoing failed or was refused;
2 the command line is wrong.

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
  readonly undo: boolean;
  readonly discardDeploys: boolean;
}

export const adoptCommand: Command = {
  usage: USAGE,
  async run(ctx) {
    const args = parseAdoptArgs(ctx);
    if (args.undo) return undo(ctx, args);
    return dryRun(ctx, args);
  },
};

/** The arguments, checked before anything connects: the value, the rule and the fix. */
function parseAdoptArgs(ctx: CommandContext): Args {
  const { values } = parseArgs({
    args: [...ctx.argv], strict: true,
    options: {
      host: { type: 'string' }, user: { type: 'string' }, key: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' },
      undo: { type: 'boolean' }, 'discard-deploys': { type: 'boolean' },
    },
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
  if (values['discard-deploys'] && !values.undo) throw new UsageError('--discard-deploys goes with --undo: it undoes an adoption even though releases were deployed since');
  if (values.undo && (values['dry-run'] || values.json)) throw new UsageError('--undo takes neither --dry-run nor --json: it prints each step as it puts the server back');
  return { host: values.host, user: values.user, key: values.key, dryRun: !!values['dry-run'], json: !!values.json, undo: !!values.undo, discardDeploys: !!values['discard-deploys'] };
}

async function dryRun(ctx: CommandContext, args: Args): Promise<number> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { resolveTarget } = require('../../targets/resolve-target') as typeof import('../../targets/resolve-target');
  const { openSsh } = require('../../ssh') as typeof import('../../ssh');
  const { formatPlan, formatRefusal } = require('../../adopt') as typeof import('../../adopt');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const target = await resolveTarget({ host: args.host, user: args.user, key: args.key, env: ctx.env, log: ctx.err });
  const where = `${target.user}@${target.label ?? target.host}`;
  const ssh = await openSsh(target);
  try {
    ctx.err(`reading ${where}${args.dryRun ? ' (read only)' : ''}`);
    const read = await readPlan(ssh, target.host);
    if ('refusal' in read) return refuse(ctx, args, read.refusal, where, formatRefusal);
    const plan = read.plan;
    if (args.dryRun) {
      if (args.json) printJson(ctx, { dryRun: true, applied: false, target: where, ...plan });
      else for (const line of [...formatPlan(plan, where), '', 'Dry run: nothing on the server was changed.']) ctx.out(line);
      return EXIT.ok;
    }
    const applied = await apply(ctx, args, ssh, target.host, where, plan);
    if (!applied) return EXIT.failed;
    if (args.json) printJson(ctx, { dryRun: false, applied: true, target: where, ...applied.plan, outcome: applied.outcome });
    else ctx.out(`Adopted: ${applied.plan.services.map((s) => `${s.name} (port ${s.port}, release ${applied.outcome.releases[s.name]})`).join(', ')}; deploy with portside deploy-service <name>, put it back with portside adopt --undo.`);
    return EXIT.ok;
  } finally {
    await ssh.close().catch(() => {});
  }
}

type Ssh = import('../../ssh').SshSession;

/** Read the server and make the plan, or say why it cannot be adopted. */
async function readPlan(ssh: Ssh, host: string): Promise<{ plan: AdoptPlan } | { refusal: Refusal }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { planAdoption, probeOutside, readServer, refusalOf } = require('../../adopt') as typeof import('../../adopt');
  const facts = await readServer(ssh);
  const refusal = refusalOf(facts);
  return refusal ? { refusal } : { plan: planAdoption(await probeOutside(facts, host)) };
}

/**
 * Apply the plan by the adopt run on the server (it survives this CLI). A plan with problems is refused
 * here, before anything is sent, unless an adoption is recorded already (the run says what then). When
 * the run had to wait for the server's lock, the server is read again and that plan is applied.
 */
async function apply(ctx: CommandContext, args: Args, ssh: Ssh, host: string, where: string, first: AdoptPlan): Promise<{ plan: AdoptPlan; outcome: import('../../adopt').ApplyOutcome } | null> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { applyRefusal, formatPlan, formatRefusal, recordedOn, startServerRun } = require('../../adopt') as typeof import('../../adopt');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const refusePlan = (plan: AdoptPlan): void => {
    const why = applyRefusal(plan);
    if (why) throw new UserError(`not adopting: ${why}; nothing was changed`, 'Fix them (portside adopt --dry-run lists each with its fix), then run adopt again.');
  };
  if (!(await recordedOn(ssh, first.server.home))) refusePlan(first);
  if (!args.json) for (const line of formatPlan(first, where)) ctx.out(line);
  const who = `${process.env.USER ?? 'someone'}@${hostname()}`;
  const run = await startServerRun(ssh, first.server.node.path!, { type: 'adopt', who, ...testFault(ctx) }, ctx.err);
  let plan = first;
  if ((await run.ready).changed) {
    ctx.err(`the server changed while this run waited for it: reading ${where} again`);
    const read = await readPlan(ssh, host);
    if ('refusal' in read || applyRefusal(read.plan)) {
      run.send({ type: 'abort' });
      await run.result;
      if ('refusal' in read) {
        refuse(ctx, args, read.refusal, where, formatRefusal);
        return null;
      }
      refusePlan(read.plan);
    }
    plan = (read as { plan: AdoptPlan }).plan;
    if (!args.json) for (const line of formatPlan(plan, where)) ctx.out(line);
  }
  run.send({ type: 'plan', plan });
  return { plan, outcome: (await run.result) as import('../../adopt').ApplyOutcome };
}

/** Tests only: PORTSIDE_ADOPT_TEST_CADDY_REFUSES=<step> makes the real Caddy refuse the config loaded at that step (lib/adopt/on-server/fault-hook.ts). */
function testFault(ctx: CommandContext): { fault?: { caddyRefusesAtStep: number } } {
  const step = Number(ctx.env.PORTSIDE_ADOPT_TEST_CADDY_REFUSES);
  return Number.isInteger(step) && step > 0 ? { fault: { caddyRefusesAtStep: step } } : {};
}

async function undo(ctx: CommandContext, args: Args): Promise<number> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { resolveTarget } = require('../../targets/resolve-target') as typeof import('../../targets/resolve-target');
  const { openSsh } = require('../../ssh') as typeof import('../../ssh');
  const { readServer, startServerRun } = require('../../adopt') as typeof import('../../adopt');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const target = await resolveTarget({ host: args.host, user: args.user, key: args.key, env: ctx.env, log: ctx.err });
  const where = `${target.user}@${target.label ?? target.host}`;
  const ssh = await openSsh(target);
  try {
    ctx.err(`reading ${where}`);
    const facts = await readServer(ssh);
    if (!facts.node.path || !facts.pm2.bin) throw new UserError(`${where}: no Node or pm2 found (${facts.node.how}); undo starts the original processes with pm2`, 'Check that pm2 runs (pm2 ls), then run undo again.');
    const who = `${process.env.USER ?? 'someone'}@${hostname()}`;
    const run = await startServerRun(ssh, facts.node.path, {
      type: 'undo', who, node: facts.node.path, pm2Bin: facts.pm2.bin, caddy: facts.caddy.binary ?? 'caddy', home: facts.home, discardDeploys: args.discardDeploys,
    }, ctx.err);
    const outcome = (await run.result) as import('../../adopt').UndoOutcome;
    ctx.out(`Undone: ${where} is as it was before adoption${outcome.discarded.length ? ` (releases deployed since stopped running: ${outcome.discarded.join(', ')})` : ''}.`);
    return EXIT.ok;
  } finally {
    await ssh.close().catch(() => {});
  }
}

function refuse(ctx: CommandContext, args: Args, refusal: Refusal, where: string, format: (r: Refusal, w: string) => string[]): number {
  if (args.json) printJson(ctx, { dryRun: args.dryRun, applied: false, target: where, refused: refusal });
  else for (const line of format(refusal, where)) ctx.err(line);
  return EXIT.failed;
}

export type { AdoptPlan };
