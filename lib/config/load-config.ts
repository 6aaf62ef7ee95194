import { servicePortProblem, parsePort } from '../ports';
import { ConfigError, ConfigProblem } from './errors';
import { parseFleetKeys } from './fleet-config';
import { CONTEXT_DEFAULTS, ContextKey, PortsideConfig, Routing } from './portside-config';
import {
  availabilityZoneProblem, cidrProblem, cpuCreditsProblem, domainProblem, emailProblem, hostedZoneIdProblem, instanceTypeProblem,
  serviceNameProblem, sshPublicKeyProblem,
} from './validators';

/** Reads one context key; CDK's `node.tryGetContext` fits, and so does a plain object lookup. */
export type ContextReader = (key: ContextKey) => unknown;

/**
 * Turn raw CDK context into a validated PortsideConfig, or throw a ConfigError listing every problem.
 * Values may arrive as strings (`-c key=value`) or as JSON values (cdk.json).
 */
export function loadConfig(read: ContextReader): PortsideConfig {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const get = (key: ContextKey): unknown => {
    const v = read(key);
    return v === '' || v === null ? undefined : v;
  };

  const schoolCidrs = parseCidrs(get('schoolCidr') ?? CONTEXT_DEFAULTS.schoolCidr, problems);

  const domain = optionalString('domain', get('domain'), domainProblem, problems);
  const email = optionalString('email', get('email'), emailProblem, problems);
  const hostedZoneId = optionalString('hostedZoneId', get('hostedZoneId'), hostedZoneIdProblem, problems);
  const sshPublicKey = optionalString('sshPublicKey', get('sshPublicKey'), sshPublicKeyProblem, problems)?.trim();
  const instanceType = optionalString('instanceType', get('instanceType') ?? CONTEXT_DEFAULTS.instanceType, instanceTypeProblem, problems)
    ?? CONTEXT_DEFAULTS.instanceType;

  const cpuCredits = (optionalString('cpuCredits', get('cpuCredits') ?? CONTEXT_DEFAULTS.cpuCredits,
    (v) => cpuCreditsProblem(v, instanceType), problems) ?? CONTEXT_DEFAULTS.cpuCredits) as PortsideConfig['cpuCredits'];
  const availabilityZone = optionalString('availabilityZone', get('availabilityZone'), availabilityZoneProblem, problems);

  if (hostedZoneId && !get('domain')) {
    problems.push({ key: 'hostedZoneId', value: hostedZoneId, message: 'records need a name: set -c domain=<the zone\'s domain> too' });
  }

  const routing = parseRouting(get('routing') ?? CONTEXT_DEFAULTS.routing, !!get('domain'), problems, warnings);

  const services = parseServices(get('services') ?? CONTEXT_DEFAULTS.services, problems);

  // A bad domain or zone is its own problem already: only an absent one is the fleet's to name.
  const { servers, maxServers } = parseFleetKeys({
    servers: get('servers') ?? CONTEXT_DEFAULTS.servers, maxServers: get('maxServers'),
    domain: get('domain') as string | undefined, hostedZoneId: get('hostedZoneId') as string | undefined,
    availabilityZone: get('availabilityZone') as string | undefined, email,
  }, problems, warnings);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    schoolCidrs, domain, email, routing, services, instanceType, hostedZoneId, sshPublicKey, cpuCredits, availabilityZone,
    servers, maxServers, warnings,
  };
}

/** `routing`, or `path` (with a warning) when subdomains are asked for and no domain is set. */
function parseRouting(raw: unknown, hasDomain: boolean, problems: ConfigProblem[], warnings: string[]): Routing {
  let routing: Routing = 'subdomain';
  if (raw === 'subdomain' || raw === 'path') {
    routing = raw;
  } else {
    problems.push({ key: 'routing', value: raw, message: 'routing is "subdomain" (simon.<domain>) or "path" (<domain>/simon/); e.g. -c routing=path' });
  }
  if (routing === 'subdomain' && !hasDomain) {
    // Subdomains need names; without a domain the server is reached by IP, where only paths can route.
    warnings.push('routing: "subdomain" needs a domain (simon.<domain>); with none set, services are routed by path (http://<ip>/simon/). Set -c domain=example.click for subdomains, or -c routing=path to silence this.');
    return 'path';
  }
  return routing;
}

function optionalString(
  key: string, value: unknown, check: (v: string) => string | undefined, problems: ConfigProblem[],
): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    problems.push({ key, value, message: 'must be a string' });
    return undefined;
  }
  const problem = check(value);
  if (problem) {
    problems.push({ key, value, message: problem });
    return undefined;
  }
  return value;
}

function parseCidrs(raw: unknown, problems: ConfigProblem[]): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : undefined;
  if (!list || list.length === 0 || list.some((c) => typeof c !== 'string')) {
    problems.push({ key: 'schoolCidr', value: raw, message: 'give one or more comma-separated CIDRs, e.g. 128.187.0.0/16' });
    return [];
  }
  const out: string[] = [];
  for (const cidr of list as string[]) {
    const problem = cidrProblem(cidr);
    if (problem) problems.push({ key: 'schoolCidr', value: cidr, message: problem });
    else if (!out.includes(cidr)) out.push(cidr);
  }
  return out;
}

/** `services` arrives as an object (cdk.json), a JSON string, or `simon:3000,startup:4000` (-c). */
export function parseServices(raw: unknown, problems: ConfigProblem[]): Record<string, number> {
  const entries = serviceEntries(raw, problems);
  return entries ? validServices(entries, problems) : {};
}

/** The raw `services` value as [name, port] pairs, or undefined (with a problem) when its shape is wrong. */
function serviceEntries(raw: unknown, problems: ConfigProblem[]): Array<[string, unknown]> | undefined {
  if (typeof raw === 'string' && raw.trim().startsWith('{')) {
    try {
      raw = JSON.parse(raw);
    } catch {
      problems.push({ key: 'services', value: raw, message: 'is not valid JSON; give {"simon":3000} or simon:3000,startup:4000' });
      return undefined;
    }
  }
  if (typeof raw === 'string') return splitServiceList(raw, problems);
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) return Object.entries(raw as Record<string, unknown>);
  problems.push({ key: 'services', value: raw, message: 'give an object {"simon":3000} or simon:3000,startup:4000' });
  return undefined;
}

/** `simon:3000,startup:4000` → pairs; a port that does not parse stays text, for the port check to name. */
function splitServiceList(text: string, problems: ConfigProblem[]): Array<[string, unknown]> {
  const entries: Array<[string, unknown]> = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^:]*):(.*)$/.exec(item);
    if (!m) {
      problems.push({ key: 'services', value: item, message: 'each entry is name:port, e.g. simon:3000' });
      continue;
    }
    const port = parsePort(m[2].trim());
    entries.push([m[1].trim(), port ?? m[2].trim()]);
  }
  return entries;
}

/** The entries whose name and port pass, in order; each other one becomes a problem. */
function validServices(entries: Array<[string, unknown]>, problems: ConfigProblem[]): Record<string, number> {
  const services: Record<string, number> = {};
  for (const [name, port] of entries) {
    const problem = serviceProblem(name, port, services);
    if (problem) problems.push({ key: `services.${name}`, ...problem });
    else services[name] = port as number;
  }
  return services;
}

/** Why one entry cannot join the services kept so far, or undefined when it can. */
function serviceProblem(name: string, port: unknown, kept: Record<string, number>): { value: unknown; message: string } | undefined {
  const nameProblem = serviceNameProblem(name);
  if (nameProblem) return { value: name, message: nameProblem };
  if (Object.prototype.hasOwnProperty.call(kept, name)) {
    return { value: name, message: 'this service is listed twice; every service name is unique' };
  }
  if (typeof port !== 'number') return { value: port, message: 'a port is a whole number 1024–49151, e.g. 3000' };
  const portProblem = servicePortProblem(port, kept, name);
  return portProblem ? { value: port, message: portProblem } : undefined;
}
