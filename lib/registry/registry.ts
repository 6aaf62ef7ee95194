import { Routing } from '../config/portside-config';
import { cidrProblem, serviceNameProblem, domainProblem, emailProblem } from '../config/validators';
import { ServicePorts, servicePortProblem } from '../ports';

/**
 * The server's service registry: the one source of truth for routes and ports on a running server.
 * The bootstrap writes the first one from the declared configuration; the deploy CLI reads and
 * updates it; the Caddyfile is always rendered from it.
 */
export interface Registry {
  readonly version: 1;
  readonly domain?: string;
  readonly email?: string;
  readonly routing: Routing;
  /** `internal` uses Caddy's own CA (the local stand-in has no public DNS); `acme` gets public certificates. */
  readonly tls: 'acme' | 'internal';
  readonly services: ServicePorts;
  /** Where things live on this server (they differ between EC2 and the stand-in). */
  readonly paths: RegistryPaths;
  /**
   * Caddyfile blocks Portside did not write (sites a person added to the live Caddyfile by hand),
   * kept verbatim and appended after Portside's own sites, so a deploy never drops them.
   * @default - none
   */
  readonly extra?: string;
  /**
   * Lines an adopted server's hand-written Caddyfile had that Portside's renderer does not write itself
   * (`portside adopt`), kept verbatim in the place they were: nothing the student had is dropped.
   * @default - none
   */
  readonly kept?: RegistryKept;
  /**
   * Set on a fleet server, behind a load balancer that ends TLS: Caddy then serves plain HTTP on port 80
   * only, and believes X-Forwarded-* headers only from `trustedProxies` (the load balancer's network).
   * @default - none: Caddy is the front door and serves HTTPS itself
   */
  readonly loadBalancer?: RegistryLoadBalancer;
}

/** How a fleet server sits behind its load balancer. */
export interface RegistryLoadBalancer {
  /** CIDRs the load balancer connects from (on AWS, the VPC's CIDR); never the whole internet. */
  readonly trustedProxies: readonly string[];
}

/** Directives kept verbatim from an adopted Caddyfile, by where they go. */
export interface RegistryKept {
  /** Lines of the global options block. @default - none */
  readonly global?: readonly string[];
  /** Directives of the root site (the static site). @default - none */
  readonly site?: readonly string[];
  /** Directives of each service's site, by service name. @default - none */
  readonly services?: Readonly<Record<string, readonly string[]>>;
}

export interface RegistryPaths {
  /** The static site's folder; `current` inside it is what Caddy serves. */
  readonly www: string;
  /** The Caddyfile Caddy runs (its folder must be writable by the deploy user for atomic renames). */
  readonly caddyfile: string;
}

/** The registry and its history folders on the server: defined once, in the server map. */
import { CADDYFILE_HISTORY_DIR, REGISTRY_FILE as REGISTRY_PATH, REGISTRY_HISTORY_DIR } from '../remote/layout';
import { byCodeUnits } from './name-order';
export { CADDYFILE_HISTORY_DIR, REGISTRY_PATH, REGISTRY_HISTORY_DIR };

/** Check a registry read from a server: a hand-edited or corrupt file must not drive a deploy. */
export function parseRegistry(text: string): Registry {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`the server's registry (~/${REGISTRY_PATH}) is not valid JSON: ${(e as Error).message}`);
  }
  const r = raw as Partial<Registry>;
  const problems: string[] = [];
  if (!r || typeof r !== 'object') problems.push('it is not an object');
  else {
    if (r.version !== 1) problems.push(`version is ${JSON.stringify(r.version)}, expected 1`);
    if (r.domain !== undefined && domainProblem(r.domain)) problems.push(`domain: ${domainProblem(r.domain)}`);
    if (r.email !== undefined && emailProblem(r.email)) problems.push(`email: ${emailProblem(r.email)}`);
    if (r.routing !== 'path' && r.routing !== 'subdomain') problems.push(`routing is ${JSON.stringify(r.routing)}`);
    if (r.routing === 'subdomain' && !r.domain) problems.push('subdomain routing without a domain');
    if (r.tls !== 'acme' && r.tls !== 'internal') problems.push(`tls is ${JSON.stringify(r.tls)}`);
    if (!r.paths || typeof r.paths.www !== 'string' || typeof r.paths.caddyfile !== 'string') problems.push('paths.www and paths.caddyfile are required');
    if (r.extra !== undefined && typeof r.extra !== 'string') problems.push('extra must be text (Caddyfile blocks kept verbatim)');
    if (r.kept !== undefined && keptProblem(r.kept)) problems.push(`kept: ${keptProblem(r.kept)}`);
    if (r.loadBalancer !== undefined && loadBalancerProblem(r.loadBalancer)) problems.push(`loadBalancer: ${loadBalancerProblem(r.loadBalancer)}`);
    if (!r.services || typeof r.services !== 'object') problems.push('services is missing');
    else {
      const seen: Record<string, number> = {};
      for (const [name, port] of Object.entries(r.services)) {
        const p = serviceNameProblem(name) ?? servicePortProblem(port as number, seen, name);
        if (p) problems.push(`services.${name}: ${p}`);
        seen[name] = port as number;
      }
    }
  }
  if (problems.length) {
    throw new Error(`the server's registry (~/${REGISTRY_PATH}) is invalid: ${problems.join('; ')}. Fix it by hand, restore a saved version from ~/${REGISTRY_HISTORY_DIR}/, or move it aside: the next command rebuilds it from the server.`);
  }
  return r as Registry;
}

/** Stable text for the registry file: sorted services so diffs and byte-for-byte checks are meaningful. */
export function renderRegistry(r: Registry): string {
  const services = Object.fromEntries(Object.entries(r.services).sort(([a], [b]) => byCodeUnits(a, b)));
  const ordered: Registry = {
    version: 1,
    ...(r.domain ? { domain: r.domain } : {}),
    ...(r.email ? { email: r.email } : {}),
    routing: r.routing,
    tls: r.tls,
    ...(r.loadBalancer ? { loadBalancer: { trustedProxies: [...r.loadBalancer.trustedProxies] } } : {}),
    services,
    paths: { www: r.paths.www, caddyfile: r.paths.caddyfile },
    ...(r.extra ? { extra: r.extra } : {}),
    ...(r.kept ? { kept: r.kept } : {}),
  };
  return JSON.stringify(ordered, null, 2) + '\n';
}

/** What is wrong with a registry's `kept` (lists of text lines), or null. */
function keptProblem(kept: unknown): string | null {
  const lines = (x: unknown) => x === undefined || (Array.isArray(x) && x.every((l) => typeof l === 'string'));
  const k = kept as RegistryKept;
  if (!k || typeof k !== 'object' || !lines(k.global) || !lines(k.site)) return 'global and site must be lists of Caddyfile lines';
  if (k.services !== undefined && (typeof k.services !== 'object' || !Object.values(k.services).every(lines))) return 'services must map names to lists of Caddyfile lines';
  return null;
}

/** What is wrong with a registry's `loadBalancer` (one or more CIDRs, none the whole internet), or null. */
export function loadBalancerProblem(lb: unknown): string | null {
  const cidrs = (lb as RegistryLoadBalancer | null)?.trustedProxies;
  if (!Array.isArray(cidrs) || cidrs.length === 0 || !cidrs.every((c) => typeof c === 'string')) {
    return 'trustedProxies must list the CIDRs the load balancer connects from, e.g. ["10.80.0.0/24"]';
  }
  const bad = cidrs.find((c) => cidrProblem(c) !== undefined);
  return bad === undefined ? null : `trustedProxies: "${bad}": ${cidrProblem(bad)}`;
}

/** A copy of the registry with one service placed (added or moved). */
export function withService(r: Registry, name: string, port: number): Registry {
  return { ...r, services: { ...r.services, [name]: port } };
}

/** A copy of the registry without one service. */
export function withoutService(r: Registry, name: string): Registry {
  const services = { ...r.services };
  delete services[name];
  return { ...r, services };
}
