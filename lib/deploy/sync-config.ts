import { keepHandWritten, renderCaddyfile } from '../caddy';
import { UserError } from '../errors';
import { servicePortProblem } from '../ports';
import { parseRegistry, Registry, renderRegistry } from '../registry';
import { SshSession } from '../ssh';
import { callAgent } from './agent-client';
import { printer, who } from './deploy-service';

/** Where a later `cdk deploy` leaves the declared configuration: beside the live Caddyfile. */
import { DECLARED_FILE } from '../remote/layout';

/** A pm2 process on the server, as the agent reports it. */
export interface ServerProcess {
  readonly status: string;
  readonly port: number | null;
}

export type SyncChange =
  | { readonly kind: 'domain' | 'email' | 'routing'; readonly from?: string; readonly to?: string }
  | { readonly kind: 'port'; readonly service: string; readonly from: number; readonly to: number }
  | { readonly kind: 'new'; readonly service: string; readonly port: number };

export interface SyncMerge {
  /** The live registry with the declared settings adopted. */
  readonly merged: Registry;
  /** What differs from the live registry, in the order it is printed; empty when already in sync. */
  readonly changes: readonly SyncChange[];
}

/**
 * Adopt the declared configuration into the live registry, or say why not (a UserError; nothing is
 * changed). The declared `domain`, `email` and `routing` replace the live ones; `tls` and `paths` stay
 * (they describe this server); the declared services' ports are laid over the live services, so a
 * service deployed with the CLI and not declared keeps its route. Pure: no server, no clock.
 */
export function mergeDeclared(live: Registry, declared: Registry, processes: Readonly<Record<string, ServerProcess>> = {}): SyncMerge {
  const merged = overlayDeclared(live, declared);
  const declaredNames = Object.keys(declared.services).sort();
  for (const name of declaredNames) assertPortFree(name, merged.services);
  for (const name of declaredNames) assertNotMoved(name, live.services[name], merged.services[name], processes[name]);
  assertValid(merged);
  return { merged, changes: diffRegistries(live, merged, declaredNames) };
}

/** The live registry with the declared domain, email, routing and service ports laid over it. */
function overlayDeclared(live: Registry, declared: Registry): Registry {
  const services: Record<string, number> = { ...live.services };
  for (const [name, port] of Object.entries(declared.services)) services[name] = port;
  return {
    version: 1,
    ...(declared.domain ? { domain: declared.domain } : {}),
    ...(declared.email ? { email: declared.email } : {}),
    routing: declared.routing,
    tls: live.tls,
    services,
    paths: live.paths,
    // A fleet server sits behind its load balancer whatever else is declared: dropping this would make its next Caddyfile HTTPS.
    ...((declared.loadBalancer ?? live.loadBalancer) ? { loadBalancer: declared.loadBalancer ?? live.loadBalancer } : {}),
  };
}

/** A declared service's port must be one no other service holds (and a port a service may use). */
function assertPortFree(name: string, services: Readonly<Record<string, number>>): void {
  const port = services[name];
  const problem = servicePortProblem(port, services, name);
  if (!problem) return;
  const owner = Object.entries(services).find(([n, p]) => p === port && n !== name)?.[0];
  throw new UserError(
    `cannot adopt the declared configuration: declared service "${name}" on port ${port}: ${problem}`,
    owner
      ? `Change "${name}"'s port in the services context (cdk.json) and run \`npx cdk deploy\` again, or move "${owner}" first with \`portside deploy-service ${owner} <port>\`. Nothing was changed.`
      : `Change "${name}"'s port in the services context (cdk.json) and run \`npx cdk deploy\` again. Nothing was changed.`,
  );
}

/** sync-config only re-routes: a running service whose declared port differs must be redeployed. */
function assertNotMoved(name: string, from: number | undefined, to: number, proc: ServerProcess | undefined): void {
  if (from === to || !proc || proc.port === to) return;
  throw new UserError(
    `cannot adopt the declared configuration: "${name}" is running on port ${proc.port ?? from} and the declared port is ${to}; sync-config does not move running services`,
    `Redeploy it on the new port with \`portside deploy-service ${name} ${to}\` (it starts the new port, health-checks it and hands the route over safely), then run sync-config again. Nothing was changed.`,
  );
}

/** The merged registry must pass the same checks as the live one. */
function assertValid(merged: Registry): void {
  try {
    parseRegistry(renderRegistry(merged));
  } catch (e) {
    throw new UserError(`cannot adopt the declared configuration: the merged registry would be invalid: ${registryProblems(e)}`,
      'Fix the declared configuration (cdk.json context) and run `npx cdk deploy` again. Nothing was changed.');
  }
}

/** What differs from the live registry, in the order it is printed: settings, then declared services by name. */
function diffRegistries(live: Registry, merged: Registry, declaredNames: readonly string[]): SyncChange[] {
  const changes: SyncChange[] = [];
  for (const kind of ['domain', 'email', 'routing'] as const) {
    if (live[kind] !== merged[kind]) changes.push({ kind, from: live[kind], to: merged[kind] });
  }
  for (const name of declaredNames) {
    const from = live.services[name];
    const to = merged.services[name];
    if (from === undefined) changes.push({ kind: 'new', service: name, port: to });
    else if (from !== to) changes.push({ kind: 'port', service: name, from, to });
  }
  return changes;
}

/** One line of the diff, e.g. `domain a.example → b.example`, `service simon: 3000 → 3100`. */
export function describeChange(c: SyncChange): string {
  switch (c.kind) {
    case 'port':
      return `service ${c.service}: ${c.from} → ${c.to}`;
    case 'new':
      return `new service ${c.service} on ${c.port}`;
    default:
      return `${c.kind} ${c.from ?? '(none)'} → ${c.to ?? '(none)'}`;
  }
}

/** parseRegistry's complaint without its words about the live registry file. */
function registryProblems(e: unknown): string {
  const m = (e as Error).message;
  return m.replace(/^the server's registry \([^)]*\) is (invalid: )?/, '').replace(/\. Fix it by hand[^]*$/, '');
}

/** Read a declared.json: a registry-format file written by the bootstrap, checked like the registry. */
export function parseDeclared(text: string, where: string): Registry {
  try {
    return parseRegistry(text);
  } catch (e) {
    throw new UserError(`the declared configuration (${where}) is not usable: ${registryProblems(e)}`,
      'Run `npx cdk deploy` again to rewrite it. Nothing was changed.');
  }
}

export interface SyncOutcome {
  readonly state: 'nothing-declared' | 'in-sync' | 'dry-run' | 'applied';
  readonly changes: readonly SyncChange[];
}

/** Adopt `<caddy dir>/declared.json` on the server: print the diff, then apply it as one route change. */
export async function syncConfig(ssh: SshSession, o: { dryRun?: boolean; log: (line: string) => void }): Promise<SyncOutcome> {
  let outcome: SyncOutcome = { state: 'in-sync', changes: [] };
  await callAgent(ssh, {
    command: 'sync',
    header: { who: who(), what: 'sync-config', readOnly: !!o.dryRun },
    onMessage: printer(o.log, {}),
    onState: async (state) => {
      const live = parseRegistry(state.registry as string);
      const where = `${live.paths.caddyfile.replace(/[^/]*$/, '')}${DECLARED_FILE}`;
      if (state.declared === null || state.declared === undefined) {
        outcome = { state: 'nothing-declared', changes: [] };
        return null;
      }
      const declared = parseDeclared(state.declared as string, where);
      const processes = (state.processes ?? {}) as Record<string, ServerProcess>;
      const { merged, changes } = mergeDeclared(live, declared, processes);
      if (changes.length === 0) {
        if (state.caddyfile !== renderCaddyfile(live)) {
          o.log('  note: the live Caddyfile does not match the registry (an interrupted change?); `portside doctor` shows the drift');
        }
        outcome = { state: 'in-sync', changes };
        return { plan: { routes: null } };
      }
      o.log(`the declared configuration (${where}) differs from the live one:`);
      for (const c of changes) o.log(`  ${describeChange(c)}`);
      if (o.dryRun) {
        outcome = { state: 'dry-run', changes };
        return null;
      }
      outcome = { state: 'applied', changes };
      // Hand-written Caddyfile sites are the server's, like tls and paths: kept.
      const next = keepHandWritten(live, { ...merged, extra: live.extra }, (state.caddyfile as string | null) ?? null, o.log);
      return { plan: { routes: { registry: renderRegistry(next), caddyfile: renderCaddyfile(next) } } };
    },
  });
  return outcome;
}
