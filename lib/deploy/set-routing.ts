import { keepHandWritten, renderCaddyfile } from '../caddy';
import { UserError } from '../errors';
import { Routing } from '../config/portside-config';
import { parseRegistry, Registry, renderRegistry } from '../registry';
import { SshSession } from '../ssh';
import { callAgent } from './agent-client';
import { printer, who } from './deploy-service';

export const ROUTINGS: readonly Routing[] = ['subdomain', 'path'];

/** `--routing` text → a Routing, or a UserError with the value, the allowed values and an example. */
export function parseRouting(text: string | undefined, flag = '--routing'): Routing | undefined {
  if (text === undefined) return undefined;
  if ((ROUTINGS as readonly string[]).includes(text)) return text as Routing;
  throw new UserError(`${flag} ${JSON.stringify(text)} is not a routing: use ${ROUTINGS.join(' or ')}, e.g. ${flag} path`);
}

/**
 * The live registry with another routing; services, ports, domain, tls and paths are kept. Pure.
 * Throws a UserError when the server cannot route that way (subdomains need a domain).
 */
export function withRouting(live: Registry, routing: Routing): Registry {
  if (routing === 'subdomain' && !live.domain) {
    throw new UserError('cannot route by subdomain: the server has no domain', 'Set the domain context (cdk.json) and run `npx cdk deploy`, or keep path routing.');
  }
  return { ...live, routing };
}

export interface SetRoutingOutcome {
  readonly from: Routing;
  readonly to: Routing;
  readonly changed: boolean;
}

/**
 * Change how the server routes (by subdomain or by path), under the server's lock: the registry and
 * the Caddyfile are rendered here, then validated by Caddy, swapped in and reloaded gracefully by the
 * agent's route step (the one `sync-config` uses). Services and their processes are not touched.
 */
export async function setRouting(ssh: SshSession, routing: Routing, o: { log: (line: string) => void; what?: string }): Promise<SetRoutingOutcome> {
  let outcome: SetRoutingOutcome = { from: routing, to: routing, changed: false };
  await callAgent(ssh, {
    command: 'sync',
    header: { who: who(), what: o.what ?? `routing ${routing}`, readOnly: false },
    onMessage: printer(o.log, {}),
    onState: async (state) => {
      const live = parseRegistry(state.registry as string);
      // Sites added to the Caddyfile by hand are kept, as every other route change keeps them.
      const next = keepHandWritten(live, withRouting(live, routing), (state.caddyfile as string | null) ?? null, o.log);
      const caddyfile = renderCaddyfile(next);
      outcome = { from: live.routing, to: routing, changed: live.routing !== routing };
      // Same routing and a Caddyfile that matches: nothing to reload (a reload closes every WebSocket).
      if (!outcome.changed && state.caddyfile === caddyfile) return { plan: { routes: null } };
      return { plan: { routes: { registry: renderRegistry(next), caddyfile } } };
    },
  });
  return outcome;
}
