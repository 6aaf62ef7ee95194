import { EC2Client } from '@aws-sdk/client-ec2';
import { parseArgs } from 'node:util';
import { CheckResult, formatReport, gatherFacts, GatherOptions, runChecks, summary } from '../../doctor';
import { openSsh } from '../../ssh';
import { resolveTarget } from '../../targets/resolve-target';
import { Command } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE } from '../connect';

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check the live server: exposure, listeners, drift, health, TLS, DNS, capacity (reads only)',
  usage: `Usage: portside doctor [--json] [options]

Inspects the server and prints one line per check (PASS, INFO, WARN, FAIL, SKIP), each warning and
failure with its fix. It only reads: nothing on the server or in AWS is changed.

  exposure   from outside the server, only 22, 80 and 443 accept connections; service ports and
             Caddy's admin API are refused (on AWS also: the security group is exactly the port model)
  sockets    ss -ltnp: only sshd, Caddy (2019 on loopback) and registered services on loopback
  drift      registry vs Caddyfile vs pm2 vs the declared configuration (cdk.json)
  health     every deployed service answers on 127.0.0.1 inside the server and through Caddy
  tls        each site's certificate and its expiry (when a domain is set)
  dns        each name resolves to the server (AWS; skipped on the local server)
  capacity   free disk and memory; node, npm and pm2 in a non-interactive SSH session

Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed.

  --json               print {"ok", "results": [{id, status, message, fix}]} instead
${TARGET_USAGE}

Examples:
  npx portside doctor --target local
  npx portside doctor --json | jq '.results[] | select(.status == "fail")'`,
  async run(ctx) {
    const { values } = parseArgs({ args: [...ctx.argv], options: { ...TARGET_OPTIONS, json: { type: 'boolean' } } });
    const results = await diagnose(ctx.cwd, ctx.env, values, ctx.err);
    const ok = !results.some((r) => r.status === 'fail');
    if (values.json) ctx.out(JSON.stringify({ ok, summary: summary(results), results }, null, 2));
    else for (const line of formatReport(results)) ctx.out(line);
    return ok ? 0 : 1;
  },
};

async function diagnose(cwd: string, env: NodeJS.ProcessEnv, values: { target?: string; host?: string; user?: string; key?: string }, log: (l: string) => void): Promise<CheckResult[]> {
  const target = await resolveTarget({ ...values, env, log });
  let ssh;
  try {
    ssh = await openSsh(target);
  } catch (e) {
    return [{ id: 'ssh', status: 'fail', message: `cannot open SSH to ${target.label ?? target.host}: ${(e as Error).message}`, fix: 'every other check needs SSH; fix this first' }];
  }
  try {
    const options: GatherOptions = {
      ssh, target: target.kind, address: target.host, cwd,
      ...(target.kind === 'local' && process.getuid?.() === 0 ? { local: localProbes() } : {}),
      ...(target.kind === 'aws' && target.hostKeyAlias ? { aws: { ec2: awsClient(env), instanceId: target.hostKeyAlias } } : {}),
    };
    return runChecks(await gatherFacts(options));
  } finally {
    await ssh.close().catch(() => {});
  }
}

/** The stand-in runs on this machine: probe from the host side of its veth, and read sockets as root. */
function localProbes(): NonNullable<GatherOptions['local']> {
  // require, not import(): the local target's helpers are only loaded when it is used (see resolve-target).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { HOST_ADDRESS } = require('../../targets/local/constants') as typeof import('../../targets/local/constants');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runOrThrow, inNetns } = require('../../targets/local/exec') as typeof import('../../targets/local/exec');
  return { probeFrom: HOST_ADDRESS, readSockets: () => runOrThrow(inNetns(['ss', '-ltnpH'])) };
}

function awsClient(env: NodeJS.ProcessEnv): EC2Client {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  return new EC2Client(region ? { region } : {});
}
