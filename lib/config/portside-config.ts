import { ServicePorts } from '../ports';

export type Routing = 'subdomain' | 'path';
export type CpuCredits = 'standard' | 'unlimited';

/** The validated configuration of one Portside server: what the stack builds and the Caddyfile routes. */
export interface PortsideConfig {
  /** CIDRs allowed to reach SSH (22). Never the whole internet. */
  readonly schoolCidrs: readonly string[];
  /** The server's domain; undefined serves plain HTTP on the IP. */
  readonly domain?: string;
  /** ACME account email. */
  readonly email?: string;
  /** The routing in effect (subdomain needs a domain; see `warnings`). */
  readonly routing: Routing;
  /** Service name → internal port. */
  readonly services: ServicePorts;
  readonly instanceType: string;
  readonly hostedZoneId?: string;
  readonly sshPublicKey?: string;
  /** CPU credits of a burstable (T) instance type: "standard" (no extra charges) or "unlimited". */
  readonly cpuCredits: CpuCredits;
  /** The Availability Zone of the server's subnet, e.g. us-east-1a; undefined lets the stack pick the first. */
  readonly availabilityZone?: string;
  /**
   * How many servers: 1 is today's single server; 2 or more is a fleet (an Auto Scaling group behind an
   * Application Load Balancer), which needs `domain` and `hostedZoneId`.
   * @default 1
   */
  readonly servers: number;
  /**
   * The most servers the fleet's Auto Scaling group may grow to (never fewer than `servers`).
   * @default - `servers`
   */
  readonly maxServers: number;
  /** Things that were accepted but changed or are worth saying, e.g. a routing fallback. */
  readonly warnings: readonly string[];
}

/** The context keys Portside reads, exactly as a user types them after `-c`. */
export const CONTEXT_KEYS = [
  'schoolCidr', 'domain', 'email', 'routing', 'services', 'instanceType', 'hostedZoneId', 'sshPublicKey',
  'cpuCredits', 'availabilityZone', 'servers', 'maxServers',
] as const;
export type ContextKey = (typeof CONTEXT_KEYS)[number];

/** Defaults, also written in cdk.json so users can see and edit them. */
export const CONTEXT_DEFAULTS = {
  schoolCidr: '128.187.0.0/16',
  routing: 'subdomain',
  services: { simon: 3000, startup: 4000 },
  instanceType: 't3.micro',
  cpuCredits: 'standard',
  servers: 1,
} as const;
