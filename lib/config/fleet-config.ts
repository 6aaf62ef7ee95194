import { ConfigProblem } from './errors';

/** The fleet keys as read from context, before validation (strings from `-c`, numbers from cdk.json). */
export interface RawFleetKeys {
  readonly servers: unknown;
  readonly maxServers: unknown;
  /** The other keys a fleet depends on (each validated on its own elsewhere). */
  readonly domain?: string;
  readonly hostedZoneId?: string;
  readonly availabilityZone?: string;
  readonly email?: string;
}

/** `servers` and `maxServers`, validated. */
export interface FleetKeys {
  readonly servers: number;
  readonly maxServers: number;
}

/**
 * Validate `servers` (≥ 1, default 1) and `maxServers` (≥ servers, default servers), and what a fleet
 * (servers ≥ 2) needs from the other keys. Each problem names the key, the value and the fix.
 */
export function parseFleetKeys(raw: RawFleetKeys, problems: ConfigProblem[], warnings: string[] = []): FleetKeys {
  const servers = wholeNumber('servers', raw.servers ?? 1, 1, 'e.g. -c servers=3 (1 is a single server)', problems) ?? 1;
  const maxServers = raw.maxServers === undefined
    ? servers
    : wholeNumber('maxServers', raw.maxServers, servers, `the fleet never has fewer than servers=${servers}; e.g. -c maxServers=${Math.max(servers, 2) * 2}`, problems) ?? servers;
  if (servers === 1 && maxServers > 1) {
    problems.push({
      key: 'maxServers', value: raw.maxServers,
      message: 'a single server (servers=1) has no Auto Scaling group to grow: set -c servers=2 or more for a fleet, or drop maxServers',
    });
  }
  if (servers >= 2) problems.push(...fleetNeeds(servers, raw));
  if (servers >= 2 && raw.email) {
    warnings.push(`email: a fleet's HTTPS certificate comes from AWS Certificate Manager and its servers ask no ACME CA for one, so email (${raw.email}) is not used with servers=${servers}`);
  }
  return { servers, maxServers };
}

/** What a fleet needs from the other keys: a domain and its zone (the certificate), and no single zone. */
function fleetNeeds(servers: number, raw: RawFleetKeys): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const why = `servers=${servers} is a fleet behind a load balancer, whose HTTPS certificate (apex and *.<domain>) is validated through DNS in your Route 53 zone`;
  if (!raw.domain) {
    out.push({ key: 'domain', value: raw.domain, message: `${why}: set -c domain=<your domain>, e.g. example.click, or use -c servers=1` });
  }
  if (!raw.hostedZoneId) {
    out.push({ key: 'hostedZoneId', value: raw.hostedZoneId, message: `${why}: set -c hostedZoneId=<the domain's hosted zone ID, Z…>, or use -c servers=1` });
  }
  if (raw.availabilityZone) {
    out.push({
      key: 'availabilityZone', value: raw.availabilityZone,
      message: `servers=${servers} spreads the fleet over two Availability Zones the region chooses; drop availabilityZone (it places a single server)`,
    });
  }
  return out;
}

/** A whole number ≥ min, from a number or its decimal text; else a problem and undefined. */
function wholeNumber(key: string, value: unknown, min: number, example: string, problems: ConfigProblem[]): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (Number.isSafeInteger(n) && n >= min) return n;
  problems.push({ key, value, message: `${key} is a whole number of at least ${min}; ${example}` });
  return undefined;
}
