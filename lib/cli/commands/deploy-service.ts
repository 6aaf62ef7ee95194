import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkDeployInput, deployService, startBuild } from '../../deploy/deploy-service';
import { deploySummary } from '../../deploy/deploy-summary';
import { hashCacheFor } from '../../deploy/hash-cache';
import { parsePort } from '../../ports';
import { UsageError } from '../../errors';
import type { Fleet } from '../../fleet/fleet-target';
import { targetFleet } from '../../fleet/fleet-target';
import { parseParallel } from '../../fleet/rollout-plan';
import type { ReleaseSpec } from '../../deploy/service-folder';
import { Command, CommandContext } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, TargetValues, checkTargetOptions, quietAwsSdkNodeNotice, withServer } from '../connect';

export const deployServiceCommand: Command = {
  usage: `Usage: portside deploy-service <name> [port] [options]

Builds the service on this machine, sends only what changed, installs its production dependencies on
the server, starts the new release on a spare port and health-checks it, then hands its port over
under pm2 (no dropped requests) and routes Caddy to it. If anything fails, the running version stays.

Without a port: the service's current port, or the next free one from 3000 for a new service.

Options:
  --dir PATH           the service's folder (default: services/<name> if it exists, else the folder npm ran in)
  --service-env FILE   KEY=value lines for the service (uploaded with mode 0600, never printed,
                       never loaded into this process; not --env-file, which Node takes for itself)
  --health-path PATH   what to GET to call it healthy (default /)
  --health-timeout S   how long the new release may take to answer (default 30 seconds)
  --dry-run            print the plan; change nothing
  --force              restart (and rebuild) even when nothing changed
  --parallel N         a fleet: deploy to N servers at a time (default 1: one at a time)
  --fleet              every server of the fleet: on AWS the instances tagged portside:fleet=<stack>, with
                       --target local the local fleet (without --fleet, --target local means the local
                       fleet only when the single stand-in is not up)
${TARGET_USAGE}
  With a fleet, the release is uploaded to
  the fleet's store once, then each server gets the steps above in turn; a failure on one puts the
  servers before it back, and the fleet's manifest moves only when every server has switched.

Examples:
  npm run deploy-service simon 3000
  npx portside deploy-service startup --dir ../startup --target local
  npx portside deploy-service simon --service-env .env.production --health-path /api/health
  npx portside deploy-service simon 3001 --dry-run`,
  async run(ctx) {
    const { target, parallel, ...a } = deployArgs(ctx);
    // Everything checkable here is checked before connecting, so bad input never reaches the server.
    const { spec } = checkDeployInput(a);
    await checkTargetOptions(target);
    const fleet = await targetFleet(target, ctx.env, ctx.err);
    if (fleet) return deployFleet(ctx, fleet, { ...a, parallel }, spec);
    // The front-end build needs nothing from the server: it runs while the connection is made.
    const hashes = hashCacheFor(ctx.env, spec.folder);
    const building = a.dryRun ? undefined : startBuild(spec, ctx.err, a.force, undefined, hashes);
    const outcome = await withServer(ctx, target, ({ ssh, address }) => {
      ctx.err(`deploying ${a.name} from ${a.dir}`);
      return deployService(ssh, { ...a, building, address, log: ctx.err, status: ctx.status, hashes });
    }).finally(() => hashes.save());
    if (outcome.dryRun) {
      ctx.out(`deploy-service ${a.name} (dry run: nothing changed) would deploy ${a.dir} on port ${outcome.port}: ${outcome.url}`);
      return 0;
    }
    ctx.out(deploySummary(outcome));
    return 0;
  },
};

interface DeployArgs {
  readonly name: string;
  readonly port?: number;
  readonly dir: string;
  readonly envFile?: string;
  readonly healthPath?: string;
  readonly probeTimeoutMs: number;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly parallel: number;
  readonly target: TargetValues & { readonly fleet: boolean };
}

/** The command line as deploy options; a wrong one is a UsageError (exit 2). Files are checked later. */
function deployArgs(ctx: CommandContext): DeployArgs {
  const { positionals, values } = parseArgs({
    args: [...ctx.argv], allowPositionals: true,
    options: {
      ...TARGET_OPTIONS,
      dir: { type: 'string' }, 'service-env': { type: 'string' }, 'health-path': { type: 'string' },
      'dry-run': { type: 'boolean' }, force: { type: 'boolean' }, 'health-timeout': { type: 'string' }, parallel: { type: 'string' }, fleet: { type: 'boolean' },
    },
  });
  if (positionals.length === 0) throw new UsageError('which service? e.g. portside deploy-service simon 3000');
  if (positionals.length > 2) throw new UsageError(`deploy-service takes a name and an optional port, got: ${positionals.join(' ')}`);
  const [name, portText] = positionals;
  const port = portText === undefined ? undefined : parsePort(portText);
  if (portText !== undefined && port === undefined) throw new UsageError(`port ${JSON.stringify(portText)} is not a port number: give a whole number 1024–49151, e.g. 3000`);
  const timeoutText = values['health-timeout'] ?? '30';
  if (!/^[0-9]{1,4}(\.[0-9]+)?$/.test(timeoutText) || Number(timeoutText) < 1) {
    throw new UsageError(`--health-timeout ${JSON.stringify(timeoutText)} must be a number of seconds, at least 1, e.g. 60`);
  }
  // Paths are relative to where the user typed the command (npm run changes the working folder).
  const base = ctx.env.INIT_CWD ?? ctx.cwd;
  const dir = values.dir !== undefined ? resolve(base, values.dir)
    : existsSync(join(base, 'services', name)) ? join(base, 'services', name) : base;
  return {
    name, port, dir, envFile: values['service-env'] && resolve(base, values['service-env']), healthPath: values['health-path'],
    probeTimeoutMs: Number(timeoutText) * 1000, dryRun: !!values['dry-run'], force: !!values.force, parallel: parseParallel(values.parallel),
    target: { target: values.target, host: values.host, user: values.user, key: values.key, fleet: !!values.fleet },
  };
}

/** The fleet branch: one build and upload, then the servers in turn; a summary line per server. */
async function deployFleet(ctx: CommandContext, fleet: Fleet, a: Omit<DeployArgs, 'target'>, spec: ReleaseSpec): Promise<number> {
  if (a.dryRun) {
    const batches = Math.ceil(fleet.servers.length / a.parallel);
    ctx.out(`deploy-service ${a.name} (dry run: nothing changed) would upload ${a.dir} to the fleet's store once, then deploy to ${fleet.servers.length} servers, ${a.parallel} at a time (${batches} batch${batches === 1 ? '' : 'es'}): ${fleet.servers.map((s) => s.label).join(', ')}`);
    return 0;
  }
  // Loaded here: the AWS SDK (the store's client) costs ~0.5 s to load, which a single-server deploy never pays.
  quietAwsSdkNodeNotice();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { deployToFleet } = require('../../fleet/fleet-deploy') as typeof import('../../fleet/fleet-deploy');
  const hashes = hashCacheFor(ctx.env, spec.folder);
  ctx.err(`deploying ${a.name} from ${a.dir} to ${fleet.servers.length} servers, ${a.parallel} at a time`);
  const o = await deployToFleet(fleet, { ...a, building: startBuild(spec, ctx.err, a.force, undefined, hashes), log: ctx.err, status: ctx.status, hashes })
    .finally(() => hashes.save());
  ctx.out(`deployed ${o.name} (release ${o.releaseId}, archive ${o.release.slice(0, 12)}) to ${o.servers.length} servers on port ${o.port}: ${o.url} (${(o.totalMs / 1000).toFixed(2)}s)`);
  for (const s of o.servers) ctx.out(`  ${s.label}: ${s.outcome.unchanged ? 'already on it' : s.outcome.previous ? `was ${s.outcome.previous}` : 'first release'}`);
  if (o.caughtUp.length) ctx.out(`  caught up (joined during the rollout): ${o.caughtUp.join(', ')}`);
  return 0;
}
