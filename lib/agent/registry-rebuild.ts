// Rebuild a lost or corrupt registry from what the server itself shows. Pure: the agent
// (registry-store.ts) gathers the facts; this decides. Never from defaults that drop running
// services: the declared configuration is used only when the server has neither a saved registry
// nor a Caddyfile, and even then every service that runs is kept.
import { HEADERS_SNIPPET, NO_DOMAIN_SITE } from '../caddy/render-caddyfile';
import { SERVICE_NAME_PATTERN } from '../config/validators';
import { isPortNumber, SERVICE_PORT_MIN } from '../ports/ranges';
import { Registry, RegistryLoadBalancer, renderRegistry } from '../registry/registry';
import { CURRENT_LINK, HEALTH_PATH, SERVICES_DIR } from '../remote/layout';
import { splitBlocks } from './caddyfile-blocks';

// The one rendering of a registry file (lib/registry), re-exported where the agent always found it.
export { renderRegistry };

/** A saved version of the registry (~/.portside/registry.history/<name>). */
export interface SavedVersion {
  readonly file: string;
  readonly text: string;
}

/** What the server shows about one service folder: ~/services/<name>/current and its manifest's port. */
export interface ReleaseFact {
  readonly name: string;
  readonly release: string | null;
  readonly port: number | null;
}

/** One entry of pm2's process list, as the rebuild reads it. */
export interface ProcessFact {
  readonly name: string;
  readonly status?: string;
  readonly port: number | null;
}

/** Everything the rebuild reads (registry-store.ts gathers it). */
export interface RebuildFacts {
  /** Saved registry versions, newest first. */
  readonly history: readonly SavedVersion[];
  /** The live Caddyfile. */
  readonly caddyfile: { readonly path: string; readonly text: string } | null;
  readonly releases: readonly ReleaseFact[];
  readonly processes: readonly ProcessFact[];
  /** The declared registry (cdk.json): a last resort for the domain and paths. @default - none */
  readonly declared?: Registry | null;
}

/** A rebuilt registry, where it came from, and what was decided on the way. */
export interface Rebuilt {
  readonly registry: Registry;
  readonly sources: string[];
  readonly notes: string[];
}

/** What a Caddyfile rendered by Portside says about the registry it was rendered from. */
export interface LiveCaddyfile {
  readonly domain?: string;
  readonly email?: string;
  readonly tls: Registry['tls'];
  readonly www: string;
  readonly services: Record<string, number>;
  /** null: no service is routed, so the routing cannot be told (with a domain). */
  readonly routing: Registry['routing'] | null;
  readonly extra?: string;
  /**
   * A fleet server's file (plain-HTTP sites, the health answer): its load balancer's trusted proxies, or null
   * when no `reverse_proxy` names them (no service routed). @default - not behind a load balancer
   */
  readonly loadBalancer?: RegistryLoadBalancer | null;
}

// The agent's notion of a port a registry may hold: any registered or dynamic port (the CLI's
// parseRegistry is stricter); a registry with a port above the service range is still usable.
const validPort = (p: unknown): p is number => typeof p === 'number' && isPortNumber(p) && p >= SERVICE_PORT_MIN;
/** A site address without the `http://` a fleet server's sites carry (TLS ends at the load balancer). */
const siteName = (key: string): string => key.replace(/^http:\/\//, '');
/** The health answer renderCaddyfile writes behind a load balancer. */
const HEALTH_HANDLE = new RegExp(`^\\s*handle ${HEALTH_PATH.replace(/[/]/g, '\\/')} \\{$`, 'm');
/** The static site's root as renderCaddyfile writes it: `root * "<www>/current"`. */
const SITE_ROOT = new RegExp(`^\\s*root \\* "?(.+?)/${CURRENT_LINK}"?\\s*$`, 'm');

/**
 * The registry's own shape check (the CLI's parseRegistry is stricter): enough to tell a usable
 * registry from a corrupt one. Returns the problem, or null.
 */
export function registryProblem(r: unknown): string | null {
  if (!r || typeof r !== 'object' || Array.isArray(r)) return 'it is not a JSON object';
  const o = r as Record<string, unknown> & { paths?: Record<string, unknown> };
  if (o.version !== 1) return `version is ${JSON.stringify(o.version)}, expected 1`;
  if (o.routing !== 'path' && o.routing !== 'subdomain') return `routing is ${JSON.stringify(o.routing)}`;
  if (o.tls !== 'acme' && o.tls !== 'internal') return `tls is ${JSON.stringify(o.tls)}`;
  if (!o.paths || typeof o.paths.www !== 'string' || typeof o.paths.caddyfile !== 'string') return 'paths.www and paths.caddyfile are missing';
  if (!o.services || typeof o.services !== 'object' || Array.isArray(o.services)) return 'services is missing';
  for (const [name, port] of Object.entries(o.services)) if (!validPort(port)) return `services.${name} is ${JSON.stringify(port)}, not a port`;
  if (o.extra !== undefined && typeof o.extra !== 'string') return 'extra is not text';
  return null;
}

/** Parse registry text: the registry, or null with the reason. */
export function parseRegistryText(text: string): { registry: Registry; problem: null } | { registry: null; problem: string } {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    return { registry: null, problem: `not valid JSON (${(e as Error).message})` };
  }
  const problem = registryProblem(r);
  return problem ? { registry: null, problem } : { registry: r as Registry, problem: null };
}

/**
 * What a Caddyfile rendered by Portside says about the registry it was rendered from: the domain,
 * routing, TLS mode, e-mail, static site folder, each service's port, and the blocks Portside did
 * not write (kept as `extra`). Null when it has no Portside static site (not Portside's file).
 */
export function readCaddyfile(text: string): LiveCaddyfile | null {
  const blocks = splitBlocks(text);
  const global = blocks.find((b) => b.key === '');
  const site = blocks.find((b) => SITE_ROOT.test(b.text) && b.key !== '' && !b.key.startsWith('('));
  if (!site) return null;
  const www = (SITE_ROOT.exec(site.text) as RegExpExecArray)[1].replace(/\\(["\\])/g, '$1');
  const domain = siteName(site.key) === NO_DOMAIN_SITE ? undefined : siteName(site.key);
  const emailMatch = global && /^\s*email\s+(\S+)\s*$/m.exec(global.text);
  const services: Record<string, number> = {};
  const ours = new Set(['', `(${HEADERS_SNIPPET})`, site.key]);
  let routing: Registry['routing'] | null = null;
  for (const m of site.text.matchAll(/handle_path \/([a-z0-9-]+)\/\* \{\s*reverse_proxy 127\.0\.0\.1:(\d+)/g)) {
    services[m[1]] = Number(m[2]);
    routing = 'path';
  }
  if (domain) {
    for (const b of blocks) {
      const key = siteName(b.key);
      if (!key.endsWith(`.${domain}`) || key.includes(' ')) continue;
      const name = key.slice(0, -(domain.length + 1));
      const proxy = /^\s*reverse_proxy 127\.0\.0\.1:(\d+)/m.exec(b.text);
      if (!SERVICE_NAME_PATTERN.test(name) || !proxy) continue;
      services[name] = Number(proxy[1]);
      ours.add(b.key);
      routing = 'subdomain';
    }
  }
  const loadBalancer = behindLoadBalancer(text, site.key);
  // The catch-all health site is Portside's too, not a hand-written block to keep.
  if (loadBalancer !== undefined && domain) ours.add(NO_DOMAIN_SITE);
  const foreign = blocks.filter((b) => !ours.has(b.key)).map((b) => b.text);
  return {
    ...(loadBalancer !== undefined ? { loadBalancer } : {}),
    domain,
    email: emailMatch ? emailMatch[1] : undefined,
    tls: global && /^\s*local_certs\s*$/m.test(global.text) ? 'internal' : 'acme',
    www,
    services,
    // No service routed: both routings render the same file. Without a domain only path routing exists.
    routing: routing || (domain ? null : 'path'),
    extra: foreign.length ? foreign.join('\n\n') : undefined,
  };
}

/** A fleet server's load balancer as its Caddyfile shows it (see LiveCaddyfile.loadBalancer); undefined when not behind one. */
function behindLoadBalancer(text: string, siteKey: string): RegistryLoadBalancer | null | undefined {
  if (!siteKey.startsWith('http://') && !HEALTH_HANDLE.test(text)) return undefined;
  const proxies = /^\s*trusted_proxies (.+)$/m.exec(text);
  return proxies ? { trustedProxies: proxies[1].trim().split(/\s+/) } : null;
}

/** Rebuild the registry from the server's own state; throws when there is nothing to rebuild from. */
export function rebuildRegistry(facts: RebuildFacts): Rebuilt {
  const notes: string[] = [];
  const sources: string[] = [];
  const saved = facts.history.map((h) => ({ file: h.file, ...parseRegistryText(h.text) })).find((h) => h.registry);
  const live = facts.caddyfile ? readCaddyfile(facts.caddyfile.text) : null;
  if (facts.caddyfile && !live) notes.push(`${facts.caddyfile.path} has no site Portside rendered (no "root * …/current"): not used`);
  const base = chooseBase(facts, saved?.registry ? { file: saved.file, registry: saved.registry } : null, live, sources, notes);
  const procs = new Map(facts.processes.filter((p) => p.name).map((p) => [p.name, p]));
  const services = servicePorts(facts, base, live, procs, sources, notes);
  dropPortClashes(services, procs, notes);
  if (facts.declared && !saved && !live) addDeclared(services, facts.declared, notes);
  const registry: { -readonly [K in keyof Registry]: Registry[K] } = { ...base, services };
  if (!registry.domain) delete registry.domain;
  if (!registry.email) delete registry.email;
  if (!registry.extra) delete registry.extra;
  const problem = registryProblem(registry);
  if (problem) throw new Error(`the registry rebuilt from ${sources.join(', ')} is unusable (${problem})`);
  return { registry, sources, notes };
}

/** The registry to start from: the newest saved version that parses, else the live Caddyfile, else the declared one. */
function chooseBase(facts: RebuildFacts, saved: { file: string; registry: Registry } | null, live: LiveCaddyfile | null, sources: string[], notes: string[]): Registry {
  if (saved) {
    sources.push(`the saved version ${saved.file}`);
    return { ...saved.registry };
  }
  if (live && facts.caddyfile) {
    // Dropping it would make a fleet server's next Caddyfile serve HTTPS itself, behind a load balancer that sends HTTP.
    const loadBalancer = live.loadBalancer ?? (live.loadBalancer === null ? facts.declared?.loadBalancer : undefined);
    const base: Registry = {
      version: 1, domain: live.domain, email: live.email, tls: live.tls, services: {}, extra: live.extra,
      routing: live.routing || (facts.declared && facts.declared.routing) || 'subdomain',
      paths: { www: live.www, caddyfile: facts.caddyfile.path },
      ...(loadBalancer ? { loadBalancer } : {}),
    };
    sources.push(`the live Caddyfile ${facts.caddyfile.path}`);
    if (live.loadBalancer === null && !loadBalancer) {
      notes.push('the Caddyfile is a fleet server\'s (behind a load balancer) but names no trusted proxy (no service is routed) and no declared configuration does: rebuilt without loadBalancer; restore a saved registry version to keep plain HTTP');
    }
    if (!live.routing) notes.push(`no service is routed in the Caddyfile, so its routing could not be read: ${base.routing} assumed`);
    return base;
  }
  if (facts.declared) {
    // Its services are not evidence of what runs here: they are added last, only where nothing clashes.
    sources.push('the declared configuration (no saved version and no Caddyfile on the server)');
    return { ...facts.declared, services: {} };
  }
  throw new Error('the registry cannot be rebuilt: the server has no saved version of it, no Caddyfile Portside rendered, and no declared configuration was given');
}

/**
 * Each service's port from every source of evidence, strongest first: what runs, what is routed,
 * what was deployed, what was saved. Disagreements are noted; the strongest wins.
 */
function servicePorts(facts: RebuildFacts, base: Registry, live: LiveCaddyfile | null, procs: Map<string, ProcessFact>, sources: string[], notes: string[]): Record<string, number> {
  const rels = new Map(facts.releases.filter((r) => r.release).map((r) => [r.name, r]));
  const routed = live ? live.services : {};
  const names = new Set([...Object.keys(base.services), ...Object.keys(routed)]);
  for (const [name] of rels) {
    if (procs.has(name)) names.add(name);
    else if (!names.has(name)) notes.push(`~/${SERVICES_DIR}/${name} has a release but no process and no route (a removed service): left unrouted`);
  }
  if (facts.releases.length || facts.processes.length) sources.push(`the release manifests in ~/${SERVICES_DIR} and pm2's process list`);
  const services: Record<string, number> = {};
  for (const name of [...names].sort()) {
    if (!SERVICE_NAME_PATTERN.test(name)) {
      notes.push(`"${name}" is not a valid service name: left out`);
      continue;
    }
    const p = procs.get(name);
    const seen = ([
      ['pm2', p?.port],
      ['the Caddyfile', routed[name]],
      ['its release manifest', rels.get(name)?.port],
      ['the saved registry', base.services[name]],
    ] as Array<[string, unknown]>).filter((s): s is [string, number] => validPort(s[1]));
    if (!seen.length) continue;
    const [from, port] = seen[0];
    const other = seen.find(([, q]) => q !== port);
    if (other) notes.push(`"${name}": ${from} says port ${port}, ${other[0]} says ${other[1]}; ${port} kept (${from} wins)`);
    services[name] = port;
  }
  return services;
}

/** Two services on one port: the one pm2 runs online there keeps it; the other is left out, loudly. */
function dropPortClashes(services: Record<string, number>, procs: Map<string, ProcessFact>, notes: string[]): void {
  const byPort = new Map<number, string[]>();
  for (const [name, port] of Object.entries(services)) byPort.set(port, [...(byPort.get(port) || []), name]);
  for (const [port, names] of byPort) {
    if (names.length < 2) continue;
    const online = names.find((n) => procs.get(n)?.status === 'online' && procs.get(n)?.port === port) || names[0];
    for (const n of names.filter((x) => x !== online)) {
      delete services[n];
      notes.push(`"${n}" and "${online}" both claim port ${port}: "${online}" kept, "${n}" left unrouted (redeploy it to give it a port)`);
    }
  }
}

/** The declared services, only where neither the name nor the port is taken by what runs. */
function addDeclared(services: Record<string, number>, declared: Registry, notes: string[]): void {
  const used = new Set(Object.values(services));
  for (const [name, port] of Object.entries(declared.services || {})) {
    if (services[name] !== undefined) continue;
    if (used.has(port)) notes.push(`declared service "${name}" on port ${port} not added: the port is taken by a running service`);
    else {
      services[name] = port;
      used.add(port);
    }
  }
}

/** A running `caddy run --config <file>` as the agent sees it in /proc (registry-store.ts reads it). */
export interface CaddyProcess {
  readonly pid: number;
  /** The real path of its --config file. */
  readonly config: string;
  /** Its network namespace (`net:[…]`), or null when /proc/<pid>/ns/net is not readable (another user's process). */
  readonly netns: string | null;
  /** The inodes of the listening TCP sockets its namespace shows (/proc/<pid>/net/tcp{,6}, readable by anyone). */
  readonly listening: readonly number[];
  /** Whether the deploy user owns the Caddyfile's folder (a deploy renames a new Caddyfile into it). */
  readonly ownedByMe: boolean;
}

/** The agent's own network namespace, seen the same two ways. */
export interface OwnNetwork {
  readonly netns: string | null;
  readonly listening: readonly number[];
}

/**
 * Whether a Caddy runs in the agent's network namespace: by the namespace link when both are readable, else
 * by its listening sockets (an inode names one socket on the whole host, so a shared one means a shared
 * namespace; two non-empty disjoint sets mean two namespaces). null: it cannot be told.
 */
export function sameNetwork(caddy: CaddyProcess, own: OwnNetwork): boolean | null {
  if (caddy.netns && own.netns) return caddy.netns === own.netns;
  if (!caddy.listening.length || !own.listening.length) return null;
  const mine = new Set(own.listening);
  return caddy.listening.some((inode) => mine.has(inode));
}

/**
 * The Caddyfile of the Caddy that serves THIS server, among every Caddy the host runs. On EC2 there is one;
 * on a host with several (the local fleet: one network namespace per server, one pid namespace for all),
 * another server's Caddy must never be taken for ours (its Caddyfile is not ours to write). Keeps the Caddys
 * in our network namespace, else those whose namespace cannot be told; several left: the one whose folder
 * the deploy user owns. Null when none runs here; throws (value, rule, fix) when it cannot be told which.
 */
export function chooseRunningCaddy(caddys: readonly CaddyProcess[], own: OwnNetwork, user: string): string | null {
  const judged = caddys.map((c) => ({ c, here: sameNetwork(c, own) }));
  const here = judged.filter((j) => j.here === true).map((j) => j.c);
  const pool = here.length ? here : judged.filter((j) => j.here === null).map((j) => j.c);
  const configs = [...new Set(pool.map((c) => c.config))];
  if (configs.length === 0) return null;
  if (here.length && configs.length === 1) return configs[0];
  const owned = [...new Set(pool.filter((c) => c.ownedByMe).map((c) => c.config))];
  if (owned.length === 1) return owned[0];
  const seen = pool.map((c) => `pid ${c.pid} --config ${c.config}`).join(', ');
  throw new Error(`the registry cannot be rebuilt from the running Caddy: ${seen} could each serve this server `
    + `(${here.length ? 'all in its network namespace' : 'their network namespace cannot be read'}) and ${owned.length ? 'the user owns the folder of more than one' : `${user} owns the folder of none`}; `
    + 'the registry is rebuilt only from this server\'s own Caddy, never another server\'s. '
    + 'Fix: put a saved version back (cp ~/.portside/registry.history/<newest> ~/.portside/registry.json), or set PORTSIDE_CADDYFILE to this server\'s Caddyfile for the agent');
}
