import { parseArgs } from 'node:util';
import {
  APT_PACKAGES, checkServerCount, fleetExists, HostRequirementError, LOCAL_FLEET_DOMAIN, LOCAL_FLEET_JSON, LOCAL_STATE_DIR, LocalFleetNotUpError,
  localDown, localFleetDown, localFleetRegister, localFleetStatus, localFleetUp, LocalServerNotUpError, localStatus, localUp, MAX_FLEET_SERVERS, PM2_PACKAGE,
} from '../../targets/local';
import type { LocalFleetStatus } from '../../targets/local';
import { parseRouting, setRouting } from '../../deploy/set-routing';
import { Routing } from '../../config/portside-config';
import { UsageError, UserError } from '../../errors';
import { Command, CommandContext } from '../command';
import { withServer } from '../connect';
import { printJson } from '../output';

const SUBCOMMANDS = ['up', 'down', 'status', 'register'] as const;

export const localCommand: Command = {
  usage: `Usage: portside local up|down|status [--json] [--routing subdomain|path]
       portside local up --servers N [--json]      (a fleet: N servers, a load balancer, an S3 store)
       portside local status|down --fleet
       portside local register s<i>                 (run by \`local up\`: adds a fleet server to the load balancer once healthy)

A stand-in server made of real parts: a network namespace "portside" at 10.77.0.2 with OpenSSH
(user "portside", a throwaway key), Caddy serving https://portside.test/ with its own CA, node,
npm and pm2, and a proxy that lets it reach only the npm registry. Needs Linux and root.

  up       create or repair it; prints where it is (--json: one JSON object on stdout)
           --routing path: serve services at https://portside.test/<name>/ instead of
           https://<name>.portside.test/ (--routing subdomain switches back); services are kept,
           Caddy reloads gracefully. Without --routing the routing stays as it is.
  status   check each part: up, degraded (run up to repair) or down; exits 0 only when up
  down     stop everything it runs and remove the namespace, the user and ${LOCAL_STATE_DIR}
           (and the local fleet, when there is one)

The local fleet (a stand-in for servers ≥ 2 on AWS): --servers N (1…${MAX_FLEET_SERVERS}) builds N servers
(namespaces portside-s1… at 10.77.1.11…, each with sshd, Caddy on plain HTTP :80 and pm2), a load balancer
(Caddy at 10.77.1.2: https://${LOCAL_FLEET_DOMAIN}/ and *.${LOCAL_FLEET_DOMAIN} with its own CA, round robin over
the servers whose /_portside/health answers 200) and an S3-compatible store (fauxqs at 10.77.1.3:4566,
bucket and throwaway credentials in --json), and writes ${LOCAL_FLEET_JSON}. Running it again
repairs or resizes the fleet; the single server above is not touched. --fleet: status or down of the
fleet only (plain \`local down\` removes both).

up installs what is missing: apt-get install -y ${APT_PACKAGES.sshd} ${APT_PACKAGES.caddy}; npm install -g ${PM2_PACKAGE}.

Examples:
  sudo npx portside local up
  sudo npx portside local up --json
  sudo npx portside local up --routing path
  sudo npx portside local status
  sudo npx portside local down
  sudo npx portside local up --servers 3 --json
  sudo npx portside local status --fleet
  sudo npx portside local down --fleet`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true,
      options: { json: { type: 'boolean' }, routing: { type: 'string' }, servers: { type: 'string' }, fleet: { type: 'boolean' } },
    });
    const [sub, ...extra] = positionals;
    if (sub === 'register') return register(ctx, extra);
    if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub) || extra.length) {
      throw new UsageError(`expected one of ${SUBCOMMANDS.join(', ')}, got ${JSON.stringify(positionals.join(' '))}`,
        'e.g. sudo npx portside local up');
    }
    const routing = routingOption(values.routing);
    if (routing && sub !== 'up') {
      throw new UsageError(`--routing goes with \`local up\`, not \`local ${sub}\``, `e.g. sudo npx portside local up --routing ${routing}`);
    }
    const servers = serversOption(values.servers, sub, routing);
    if (values.fleet && sub === 'up') throw new UsageError('`local up` takes --servers N for the fleet, not --fleet', 'e.g. sudo npx portside local up --servers 3');
    try {
      if (servers !== undefined) return await fleetUp(ctx, servers, Boolean(values.json));
      if (sub === 'up') return await up(ctx, Boolean(values.json), routing);
      if (sub === 'down') {
        await (values.fleet ? localFleetDown({ log: ctx.err }) : localDown({ log: ctx.err }));
        return 0;
      }
      if (values.fleet) return await fleetStatus(ctx, Boolean(values.json));
      return await status(ctx, Boolean(values.json));
    } catch (e) {
      if (e instanceof HostRequirementError) throw new UserError(e.message, e.detail);
      if (e instanceof LocalServerNotUpError || e instanceof LocalFleetNotUpError) throw new UserError(e.message);
      throw e;
    }
  },
};

/**
 * `local register s<i>`: what `local up --servers N` starts in the background for a server whose health
 * does not answer 200 yet; it adds the server to the load balancer once it does (as a new ALB target
 * gets requests only after passing its health check). Exits 0 once registered or the server is gone.
 */
async function register(ctx: CommandContext, names: readonly string[]): Promise<number> {
  if (names.length !== 1) throw new UsageError(`\`local register\` takes one fleet server's name, got ${JSON.stringify(names.join(' '))}`, 'e.g. sudo npx portside local register s4');
  try {
    const where = await localFleetRegister(names[0], { log: ctx.err });
    ctx.err(`${names[0]}: ${where}`);
    return 0;
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    if (e instanceof HostRequirementError) throw new UserError(e.message, e.detail);
    throw e;
  }
}

/** --servers' value: a count of fleet servers with \`local up\` only, or a usage error with the rule. */
function serversOption(text: string | undefined, sub: string, routing: Routing | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (sub !== 'up') throw new UsageError(`--servers goes with \`local up\`, not \`local ${sub}\``, `e.g. sudo npx portside local ${sub} --fleet`);
  if (routing) throw new UsageError('--routing is for the single server; the fleet routes by subdomain', 'drop --routing, or drop --servers');
  try {
    return checkServerCount(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

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

async function fleetUp(ctx: CommandContext, servers: number, json: boolean): Promise<number> {
  const started = Date.now();
  const fleet = await localFleetUp({ servers, log: ctx.err });
  if (json) {
    printJson(ctx, fleet);
    return 0;
  }
  ctx.out(`local fleet is up: ${fleet.servers.length} server(s) (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  ctx.out(`  load balancer: https://${fleet.domain}/ at ${fleet.loadBalancer.address}, e.g. curl --cacert ${fleet.caCertPath} --resolve ${fleet.domain}:443:${fleet.loadBalancer.address} https://${fleet.domain}/`);
  for (const s of fleet.servers) ctx.out(`  ${s.name}: ssh -i ${s.keyPath} ${s.user}@${s.address} (host key ${s.hostKeyFingerprint})`);
  ctx.out(`  store: ${fleet.store.endpoint}, bucket ${fleet.store.bucket} (settings: ${fleet.store.credentialsFile})`);
  ctx.out(`  described in ${LOCAL_FLEET_JSON}`);
  return 0;
}

/** One line per part: name, ok or DOWN, detail. */
function partLines(ctx: CommandContext, parts: Record<string, { ok: boolean; detail: string }>, indent: string): void {
  for (const [name, part] of Object.entries(parts)) ctx.out(`${indent}${name.padEnd(12)} ${part.ok ? 'ok  ' : 'DOWN'} ${part.detail}`);
}

function fleetState(f: LocalFleetStatus): 'up' | 'degraded' | 'down' {
  return f.up ? 'up' : f.fleet && (Object.values(f.parts).some((p) => p.ok) || f.servers.length > 0) ? 'degraded' : 'down';
}

function printFleetStatus(ctx: CommandContext, f: LocalFleetStatus): void {
  ctx.out(`local fleet: ${fleetState(f)}`);
  partLines(ctx, f.parts, '  ');
  for (const s of f.servers) {
    ctx.out(`  server ${s.name} (${s.address}): ${s.health.ok ? 'healthy' : 'not healthy'} (${s.health.detail}); load balancer: ${s.loadBalancer}`);
    partLines(ctx, s.parts, '    ');
  }
  if (!f.up) ctx.out('Run `sudo npx portside local up --servers N` to start or repair it.');
}

async function fleetStatus(ctx: CommandContext, json: boolean): Promise<number> {
  const f = await localFleetStatus();
  if (json) printJson(ctx, { state: fleetState(f), ...f });
  else printFleetStatus(ctx, f);
  return f.up ? 0 : 1;
}

async function status(ctx: CommandContext, json: boolean): Promise<number> {
  const s = await localStatus();
  // A fleet, when there is one, is part of the machine's stand-ins: reported too, and must be up as well.
  // With a fleet, a single server that was never brought up (no server.json) is not a failure.
  const fleet = fleetExists() ? await localFleetStatus() : undefined;
  const ok = (s.up || (fleet !== undefined && !s.server)) && (!fleet || fleet.up);
  // "degraded": it was brought up and some part still runs; `local up` repairs it.
  const state = s.up ? 'up' : s.server && Object.values(s.parts).some((p) => p.ok) ? 'degraded' : 'down';
  if (json) {
    printJson(ctx, { state, ...s.server, parts: s.parts, ...(fleet ? { fleet: { state: fleetState(fleet), ...fleet } } : {}) });
    return (fleet ? ok : s.up) ? 0 : 1;
  }
  ctx.out(`local server: ${state}`);
  for (const [name, part] of Object.entries(s.parts)) ctx.out(`  ${name.padEnd(6)} ${part.ok ? 'ok  ' : 'DOWN'} ${part.detail}`);
  if (s.server) {
    ctx.out(`  ${s.server.user}@${s.server.address}:${s.server.sshPort}, key ${s.server.keyPath}, host key ${s.server.hostKeyFingerprint}`);
    ctx.out(`  https://${s.server.domain}/ at ${s.server.address}, CA ${s.server.caCertPath}`);
  }
  if (!s.up) ctx.out('Run `sudo npx portside local up` to start or repair it.');
  if (fleet) printFleetStatus(ctx, fleet);
  return (fleet ? ok : s.up) ? 0 : 1;
}
