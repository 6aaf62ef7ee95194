import { parseArgs } from 'node:util';
import {
  APT_PACKAGES, HostRequirementError, LOCAL_STATE_DIR, LocalServerNotUpError, localDown, localStatus, localUp, PM2_PACKAGE,
} from '../../targets/local';
import { parseRouting, setRouting } from '../../deploy/set-routing';
import { Routing } from '../../config/portside-config';
import { UsageError, UserError } from '../../errors';
import { Command, CommandContext } from '../command';
import { withServer } from '../connect';
import { printJson } from '../output';

const SUBCOMMANDS = ['up', 'down', 'status'] as const;

export const localCommand: Command = {
  usage: `Usage: portside local up|down|status [--json] [--routing subdomain|path]

A stand-in server made of real parts: a network namespace "portside" at 10.77.0.2 with OpenSSH
(user "portside", a throwaway key), Caddy serving https://portside.test/ with its own CA, node,
npm and pm2, and a proxy that lets it reach only the npm registry. Needs Linux and root.

  up       create or repair it; prints where it is (--json: one JSON object on stdout)
           --routing path: serve services at https://portside.test/<name>/ instead of
           https://<name>.portside.test/ (--routing subdomain switches back); services are kept,
           Caddy reloads gracefully. Without --routing the routing stays as it is.
  status   check each part: up, degraded (run up to repair) or down; exits 0 only when up
  down     stop everything it runs and remove the namespace, the user and ${LOCAL_STATE_DIR}

up installs what is missing: apt-get install -y ${APT_PACKAGES.sshd} ${APT_PACKAGES.caddy}; npm install -g ${PM2_PACKAGE}.

Examples:
  sudo npx portside local up
  sudo npx portside local up --json
  sudo npx portside local up --routing path
  sudo npx portside local status
  sudo npx portside local down`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true, options: { json: { type: 'boolean' }, routing: { type: 'string' } },
    });
    const [sub, ...extra] = positionals;
    if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub) || extra.length) {
      throw new UsageError(`expected one of ${SUBCOMMANDS.join(', ')}, got ${JSON.stringify(positionals.join(' '))}`,
        'e.g. sudo npx portside local up');
    }
    const routing = routingOption(values.routing);
    if (routing && sub !== 'up') {
      throw new UsageError(`--routing goes with \`local up\`, not \`local ${sub}\``, `e.g. sudo npx portside local up --routing ${routing}`);
    }
    try {
      if (sub === 'up') return await up(ctx, Boolean(values.json), routing);
      if (sub === 'down') {
        await localDown({ log: ctx.err });
        return 0;
      }
      return await status(ctx, Boolean(values.json));
    } catch (e) {
      if (e instanceof HostRequirementError) throw new UserError(e.message, e.detail);
      if (e instanceof LocalServerNotUpError) throw new UserError(e.message);
      throw e;
    }
  },
};

/** --routing's value: one of the routings, or a usage error that lists them. */
function routingOption(text: string | undefined): Routing | undefined {
  try {
    return parseRouting(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function up(ctx: CommandContext, json: boolean, routing?: Routing): Promise<number> {
  const started = Date.now();
  const server = await localUp({ log: ctx.err });
  if (routing) {
    // Through the agent, like any route change: under the server's lock, validated, reloaded gracefully.
    const r = await withServer(ctx, { target: 'local' }, ({ ssh }) => setRouting(ssh, routing, { log: ctx.err, what: `local up --routing ${routing}` }));
    ctx.err(r.changed ? `routing: ${r.from} → ${r.to} (services kept; Caddy reloaded gracefully)` : `routing: already ${r.to}`);
  }
  if (json) {
    printJson(ctx, server);
    return 0;
  }
  ctx.out(`local server is up (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  ctx.out(`  ssh:      ssh -i ${server.keyPath} -p ${server.sshPort} ${server.user}@${server.address}`);
  ctx.out(`  host key: ${server.hostKeyFingerprint}`);
  ctx.out(`  site:     https://${server.domain}/ at ${server.address}, e.g. curl --cacert ${server.caCertPath} --resolve ${server.domain}:443:${server.address} https://${server.domain}/`);
  if (routing) ctx.out(`  services: ${routing === 'path' ? `https://${server.domain}/<name>/` : `https://<name>.${server.domain}/`}`);
  return 0;
}

async function status(ctx: CommandContext, json: boolean): Promise<number> {
  const s = await localStatus();
  // "degraded": it was brought up and some part still runs; `local up` repairs it.
  const state = s.up ? 'up' : s.server && Object.values(s.parts).some((p) => p.ok) ? 'degraded' : 'down';
  if (json) {
    printJson(ctx, { state, ...s.server, parts: s.parts });
    return s.up ? 0 : 1;
  }
  ctx.out(`local server: ${state}`);
  for (const [name, part] of Object.entries(s.parts)) ctx.out(`  ${name.padEnd(6)} ${part.ok ? 'ok  ' : 'DOWN'} ${part.detail}`);
  if (s.server) {
    ctx.out(`  ${s.server.user}@${s.server.address}:${s.server.sshPort}, key ${s.server.keyPath}, host key ${s.server.hostKeyFingerprint}`);
    ctx.out(`  https://${s.server.domain}/ at ${s.server.address}, CA ${s.server.caCertPath}`);
  }
  if (!s.up) ctx.out('Run `sudo npx portside local up` to start or repair it.');
  return s.up ? 0 : 1;
}
