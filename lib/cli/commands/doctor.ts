import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { CheckResult, GatherOptions } from '../../doctor';
import type { FleetGatherOptions } from '../../doctor/fleet';
import type { Fleet } from '../../fleet/fleet-target';
import { targetFleet } from '../../fleet/fleet-target';
import { UserError } from '../../errors';
import { Command, CommandContext } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, TargetValues, checkTargetOptions, quietAwsSdkNodeNotice } from '../connect';
import { CONTEXT_OPTION, CONTEXT_USAGE, contextOverrides } from '../context-option';
import { printJson } from '../output';

export const doctorCommand: Command = {
  usage: `Usage: portside doctor [--json] [-c key=value ...] [options]

Inspects the server and prints one line per check (PASS, INFO, WARN, FAIL, SKIP), each warning and
failure with its fix. It only reads: nothing on the server or in AWS is changed.

  exposure        from outside the server, only 22, 80 and 443 accept connections; service ports
                  and Caddy's admin API are refused
  security-group  AWS: the group's ingress is exactly the port model
  sockets         ss -ltnp: only sshd, Caddy (2019 on loopback) and registered services on loopback
  drift           the registry against the Caddyfile, pm2's processes and the services' folders
  declared        cdk.json (and any -c) against the server's registry: services, ports, domain
  health          every deployed service answers on 127.0.0.1 inside the server and through Caddy
  tls             each site's certificate and its expiry (when a domain is set)
  dns             each name resolves to the server (AWS; skipped on the local server)
  capacity        free disk and memory
  tools           node, npm and pm2 in a non-interactive SSH session

Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed, 2 when the command
line is wrong.

A fleet (--fleet: the AWS fleet, every running instance tagged portside:fleet=<stack>; with --target local
the local fleet, \`portside local up --servers N\`, which --target local also means without --fleet when the
single stand-in is not up): every check above on each
server, then the fleet's own: the store's manifest; per server its address, its answer to the load
balancer's health check (GET /_portside/health) and each service's release; one release of each service
on every server, the manifest's; the site through the load balancer and the load balancer's certificates.
A fleet server serves plain HTTP on 80 behind the load balancer, so 443, certificates and DNS are
checked at the load balancer, not on each server.

Options:
  --json               print {"ok", "summary", "results": [{id, status, message, fix}]} instead
                       (a fleet: {"ok", "summary", "servers": [{server, address, results}], "fleet": [...]})
  --fleet              the fleet: on AWS (the load balancer is reached at cdk.json's domain), or with
                       --target local the local fleet
${CONTEXT_USAGE}
${TARGET_USAGE}

Examples:
  npx portside doctor --target local
  npx portside doctor --target local --fleet
  npx portside doctor --fleet --json | jq '.fleet[] | select(.status == "fail")'
  npx portside doctor -c domain=example.click
  npx portside doctor --json | jq '.results[] | select(.status == "fail")'`,
  async run(ctx) {
    const { values } = parseArgs({ args: [...ctx.argv], options: { ...TARGET_OPTIONS, ...CONTEXT_OPTION, json: { type: 'boolean' }, fleet: { type: 'boolean' } } });
    const context = contextOverrides(values.context);
    await checkTargetOptions(values);
    const fleet = await targetFleet(values, ctx.env, ctx.err);
    if (fleet) return doctorFleet(ctx, fleet, context, !!values.json);
    // lib/doctor reads AWS security groups: loaded only when doctor runs.
    const { formatReport, summary } = await import('../../doctor');
    const results = await diagnose(ctx.cwd, ctx.env, values, context, ctx.err);
    const ok = !results.some((r) => r.status === 'fail');
    if (values.json) printJson(ctx, { ok, summary: summary(results), results });
    else for (const line of formatReport(results)) ctx.out(line);
    return ok ? 0 : 1;
  },
};

/** The fleet's doctor: each server's checks and the fleet's; exit 1 when any failed. */
async function doctorFleet(ctx: CommandContext, fleet: Fleet, context: Record<string, string>, json: boolean): Promise<number> {
  // The store's client (the AWS SDK) and the fleet's modules are loaded only for a fleet.
  quietAwsSdkNodeNotice();
  const [{ gatherFleetFacts, diagnoseFleet, formatFleetReport, allResults }, { summary }] = await Promise.all([import('../../doctor/fleet'), import('../../doctor')]);
  const reading = fleet.kind === 'local' ? await localFleetReading(fleet) : await awsFleetReading(fleet, ctx.cwd, context, ctx.env);
  const report = diagnoseFleet(await gatherFleetFacts({ ...reading, cwd: ctx.cwd, context }));
  const results = allResults(report);
  const ok = !results.some((r) => r.status === 'fail');
  if (json) printJson(ctx, { ok, summary: summary(results), ...report });
  else for (const line of formatFleetReport(report)) ctx.out(line);
  return ok ? 0 : 1;
}

/**
 * What the doctor needs of the local fleet beyond its SSH targets (fleet.json, lib/targets/local): each
 * server's namespace (its sockets are read there as root), the load balancer's address, domain and CA.
 */
async function localFleetReading(fleet: Fleet): Promise<Omit<FleetGatherOptions, 'cwd' | 'context'>> {
  const [{ readLocalFleet }, { FLEET_HOST_ADDRESS }, { runOrThrow, inNetns }] = await Promise.all([
    import('../../targets/local/fleet-description'), import('../../targets/local/fleet-constants'), import('../../targets/local/exec'),
  ]);
  const described = readLocalFleet();
  const root = process.getuid?.() === 0;
  const servers = fleet.servers.map((s, i) => {
    const d = described.servers[i];
    return {
      label: s.label, address: d.address, target: s.target,
      ...(root ? { local: { probeFrom: FLEET_HOST_ADDRESS, readSockets: () => runOrThrow(inNetns(['ss', '-ltnpH'], d.netns)) } } : {}),
    };
  });
  return {
    kind: 'local', servers, store: fleet.store,
    loadBalancer: { address: described.loadBalancer.address, domain: described.domain, ca: readFileSync(described.caCertPath) },
  };
}

/**
 * An AWS fleet (`--fleet`, lib/fleet/aws-fleet.ts): each instance's security group is read by its id;
 * the load balancer is reached at the declared domain (a fleet needs one), verified with the system's CAs.
 */
async function awsFleetReading(fleet: Fleet, cwd: string, context: Record<string, string>, env: NodeJS.ProcessEnv): Promise<Omit<FleetGatherOptions, 'cwd' | 'context'>> {
  const { contextFromCdkJson, loadConfig } = await import('../../config');
  const domain = loadConfig(contextFromCdkJson(cwd, context)).domain;
  if (!domain) throw new UserError('doctor --fleet on AWS reaches the load balancer at the fleet\'s domain, and cdk.json has none', 'run it in the folder whose cdk.json deployed the fleet, or add -c domain=<the fleet\'s domain>');
  const ec2 = await awsClient(env);
  const servers = fleet.servers.map((s) => ({
    label: s.label, address: s.target.host, target: s.target,
    ...(s.target.hostKeyAlias ? { aws: { ec2, instanceId: s.target.hostKeyAlias } } : {}),
  }));
  return { kind: 'aws', servers, store: fleet.store, loadBalancer: { address: domain, domain } };
}

async function diagnose(cwd: string, env: NodeJS.ProcessEnv, values: TargetValues, context: Record<string, string>, log: (l: string) => void): Promise<CheckResult[]> {
  const [{ gatherFacts, runChecks }, { openSsh }, { resolveTarget }] = await Promise.all([
    import('../../doctor'), import('../../ssh'), import('../../targets/resolve-target'),
  ]);
  if (values.host === undefined && (values.target ?? env.PORTSIDE_TARGET ?? 'aws') === 'aws') quietAwsSdkNodeNotice();
  const target = await resolveTarget({ ...values, env, log }).catch((e: Error) => {
    // A fleet's instances all carry the server tag too: the single-server lookup finds several.
    if (e.name === 'AwsTargetError' && /EC2 instances are tagged/.test(e.message)) throw new UserError(e.message, 'if this stack is a fleet (-c servers=N), check all of it: portside doctor --fleet');
    throw e;
  });
  let ssh;
  try {
    ssh = await openSsh(target);
  } catch (e) {
    return [{ id: 'ssh', status: 'fail', message: `cannot open SSH to ${target.label ?? target.host}: ${(e as Error).message}`, fix: 'every other check needs SSH; fix this first' }];
  }
  try {
    const options: GatherOptions = {
      ssh, target: target.kind, address: target.host, cwd, context,
      ...(target.kind === 'local' && process.getuid?.() === 0 ? { local: await localProbes() } : {}),
      ...(target.kind === 'aws' && target.hostKeyAlias ? { aws: { ec2: await awsClient(env), instanceId: target.hostKeyAlias } } : {}),
    };
    return runChecks(await gatherFacts(options));
  } finally {
    await ssh.close().catch(() => {});
  }
}

/** The stand-in runs on this machine: probe from the host side of its veth, and read sockets as root. */
async function localProbes(): Promise<NonNullable<GatherOptions['local']>> {
  const [{ HOST_ADDRESS }, { runOrThrow, inNetns }] = await Promise.all([
    import('../../targets/local/constants'), import('../../targets/local/exec'),
  ]);
  return { probeFrom: HOST_ADDRESS, readSockets: () => runOrThrow(inNetns(['ss', '-ltnpH'])) };
}

async function awsClient(env: NodeJS.ProcessEnv): Promise<EC2Client> {
  const { EC2Client } = await import('@aws-sdk/client-ec2');
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  return new EC2Client(region ? { region } : {});
}
