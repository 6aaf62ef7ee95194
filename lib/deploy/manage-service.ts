import { keepHandWritten, renderCaddyfile, serviceUrl } from '../caddy';
import { describeHealth } from '../health/describe-health';
import { UsageError, UserError } from '../errors';
import { parseRegistry, renderRegistry, withoutService } from '../registry';
import { SshSession } from '../ssh';
import { callAgent } from './agent-client';
import { printer, who } from './deploy-service';
import { checkServiceName } from './service-name';

/** `--to`'s value, or a UsageError that says how to list the server's releases. */
export function checkReleaseId(to: string, name: string): string {
  if (!RELEASE_ID.test(to)) {
    throw new UsageError(`--to ${JSON.stringify(to)} is not a release id`, `Give one of the server's releases, e.g. --to 20261130T073456Z-ab12; portside rollback ${name} --dry-run lists them.`);
  }
  return to;
}

/** Where a rollback goes and what else is on the server. */
export interface RollbackOutcome {
  readonly release: string;
  readonly previous: string;
  readonly port: number;
  readonly dryRun: boolean;
  /** Releases on the server other than the one rolled back from, newest deploy first. */
  readonly releases: readonly string[];
}

/** A release id as Portside makes them (20261130T073456Z-ab12), or any other folder-name-safe id. */
export const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Back to an earlier release: nothing is uploaded; the old release is probed before it takes over.
 * Without `to`, the newest release other than the current one (a second rollback returns to the one
 * the first left); `to` picks any release still on the server. `dryRun` only says which it would be.
 */
export async function rollbackService(ssh: SshSession, name: string, log: (l: string) => void, o: { to?: string; dryRun?: boolean } = {}): Promise<RollbackOutcome> {
  checkServiceName(name);
  if (o.to !== undefined) checkReleaseId(o.to, name);
  const r = await callAgent(ssh, {
    command: 'rollback',
    header: { service: name, who: who(), what: `rollback ${name}`, to: o.to, dryRun: !!o.dryRun, readOnly: !!o.dryRun },
    onMessage: printer(log, {}),
  });
  return { release: r.id as string, previous: r.previous as string, port: r.port as number, dryRun: !!r.dryRun, releases: (r.releases as string[] | undefined) ?? [] };
}

/** What remove-service did, or with `dryRun` would do. */
export interface RemoveOutcome {
  readonly dryRun: boolean;
  /** The pm2 process it stopped (would stop), or null when none ran. */
  readonly process: { readonly status: string; readonly port: number | null } | null;
  /** The port whose route it removed (would remove), or null when the service had no route. */
  readonly routePort: number | null;
  readonly purge: boolean;
}

/**
 * Stop a service, remove its route and free its port; its files stay unless `purge`. `dryRun` reads
 * the server's state (no lock), says what would change and changes nothing.
 */
export async function removeService(ssh: SshSession, name: string, purge: boolean, log: (l: string) => void, o: { dryRun?: boolean } = {}): Promise<RemoveOutcome> {
  checkServiceName(name);
  let outcome: RemoveOutcome = { dryRun: !!o.dryRun, process: null, routePort: null, purge };
  await callAgent(ssh, {
    command: 'remove',
    header: { service: name, who: who(), what: `remove-service ${name}`, readOnly: !!o.dryRun },
    onMessage: printer(log, {}),
    onState: async (state) => {
      const registry = parseRegistry(state.registry as string);
      const proc = (state.process ?? null) as RemoveOutcome['process'];
      if (registry.services[name] === undefined && !proc) {
        throw new UserError(`there is no service "${name}" on this server`, `Registered: ${Object.keys(registry.services).join(', ') || 'none'}`);
      }
      outcome = { ...outcome, process: proc, routePort: registry.services[name] ?? null };
      if (o.dryRun) {
        for (const line of removalPlan(name, outcome)) log(line);
        return null;
      }
      const next = keepHandWritten(registry, withoutService(registry, name), (state.caddyfile as string | null) ?? null, log);
      const routes = registry.services[name] !== undefined ? { registry: renderRegistry(next), caddyfile: renderCaddyfile(next) } : null;
      return { plan: { routes, purge } };
    },
  });
  return outcome;
}

/** The dry run's plan, one line per thing that would change. */
export function removalPlan(name: string, r: RemoveOutcome): string[] {
  return [
    `plan for remove-service ${name} (dry run: nothing is changed)`,
    `  process: ${r.process ? `would stop it (${r.process.status}${r.process.port ? ` on port ${r.process.port}` : ''})` : 'none runs'}`,
    `  route: ${r.routePort !== null ? `would remove ${name} → ${r.routePort} from the registry and the Caddyfile (Caddy reloads gracefully); port ${r.routePort} becomes free` : 'none'}`,
    `  files: ${r.purge ? 'would delete its releases and settings on the server' : 'kept (--purge deletes them)'}`,
  ];
}

export interface ServiceRow {
  readonly name: string;
  readonly port: number | null;
  readonly url: string | null;
  readonly status: string;
  readonly health: string;
  readonly release: string | null;
  readonly deployedAt: string | null;
}

/**
 * One row per service: the registry joined with pm2's view and a live health check. `log` gets the
 * agent's notes (e.g. that a lost registry was rebuilt, and from what).
 */
export async function listServices(ssh: SshSession, address: string, log: (l: string) => void = () => {}): Promise<ServiceRow[]> {
  const r = await callAgent(ssh, { command: 'status', header: { readOnly: true, who: who() }, onMessage: printer(log, {}) });
  const registry = parseRegistry(JSON.stringify(r.registry));
  return r.services.map((s) => ({
    name: s.name,
    port: s.port,
    url: s.registered ? serviceUrl(registry, s.name, address) : null,
    status: !s.registered ? 'unregistered' : s.process === 'none' ? (s.release ? 'stopped' : 'not deployed') : s.process,
    health: describeHealth(s.health, s.healthPath ?? '/'),
    release: s.release,
    deployedAt: s.deployedAt,
  }));
}
