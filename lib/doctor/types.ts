import type { PortsideConfig } from '../config/portside-config';
import type { Registry } from '../registry/registry';

/** How one check came out. Only `fail` makes `portside doctor` exit non-zero. */
export type CheckStatus = 'pass' | 'info' | 'warn' | 'fail' | 'skip';

/** One line of the doctor's report: what was checked, what was found, and (when not passing) the fix. */
export interface CheckResult {
  /** Stable, greppable id: `<area>.<what>[.<subject>]`, e.g. `sockets.unregistered.7777`. */
  readonly id: string;
  readonly status: CheckStatus;
  /** One sentence: what was found, with the values. */
  readonly message: string;
  /** What to do about it (every warn and fail has one). */
  readonly fix?: string;
}

/** A listening TCP socket, as `ss -ltnp` shows it. */
export interface ListeningSocket {
  /** The local address without brackets: `127.0.0.1`, `0.0.0.0`, `::`, `*`, `10.77.0.2`. */
  readonly address: string;
  readonly port: number;
  /** The process names holding it; empty when the reading user may not see them. */
  readonly processes: readonly string[];
  readonly pids: readonly number[];
}

/** What a connection attempt from outside the server saw. */
export type ProbeOutcome = 'open' | 'refused' | 'filtered';

/** A pm2 process, reduced to what the checks need. */
export interface Pm2Process {
  readonly name: string;
  readonly status: string;
  readonly port: number | null;
  readonly pid: number | null;
  readonly execMode: string;
  /** Whether Portside's preload (loopback binding, drain, env file) is loaded into it. */
  readonly preload: boolean;
}

/** A service's folder on the server. */
export interface ServiceFolder {
  readonly name: string;
  /** The current release id, or null when none was ever switched to. */
  readonly release: string | null;
  /** The release's health path (its manifest), default `/`. */
  readonly healthPath: string;
}

/** The result of an HTTP GET: a status code, or the error code when there was no answer. */
export type HttpOutcome = number | string;

export interface SiteCertificate {
  readonly host: string;
  readonly validFrom?: string;
  readonly validTo?: string;
  readonly issuer?: string;
  readonly error?: string;
}

export interface CapacityFacts {
  readonly diskFreeBytes: number;
  readonly diskTotalBytes: number;
  readonly memAvailableBytes: number;
  readonly memTotalBytes: number;
}

/** One ingress permission of a security group, flattened to one peer. */
export interface SecurityGroupRule {
  readonly groupId: string;
  /** `tcp`, `udp`, `icmp` or `-1` (everything). */
  readonly protocol: string;
  readonly fromPort: number | null;
  readonly toPort: number | null;
  /** A CIDR (v4 or v6), or `sg-…` / `pl-…` for a group or prefix-list peer. */
  readonly peer: string;
}

export interface DnsAnswer {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly error?: string;
}

/**
 * Everything the doctor looked at, gathered once; the checks are pure functions of this.
 * A field that could not be gathered holds an `{ error }` so the check can say why.
 */
export interface DoctorFacts {
  readonly target: 'local' | 'aws' | 'host';
  /** The server's public address (what users and the security group see). */
  readonly address: string;
  readonly registryText: string | null;
  readonly registry: Registry | { readonly error: string };
  /**
   * The registry's saved versions on the server (~/.portside/registry.history), newest first.
   * @default - none saved (a server that predates registry history)
   */
  readonly registryHistory?: readonly string[];
  readonly caddyfile: string | null;
  readonly declared: PortsideConfig | { readonly error: string };
  readonly pm2: readonly Pm2Process[] | { readonly error: string };
  readonly folders: readonly ServiceFolder[];
  /** Connection attempts from outside the server, by port. */
  readonly outside: ReadonlyArray<{ readonly port: number; readonly outcome: ProbeOutcome }>;
  /** GET 127.0.0.1:<port><healthPath> on the server, by service name. */
  readonly direct: Readonly<Record<string, HttpOutcome>>;
  /** GET the service's URL through Caddy on the server, by service name. */
  readonly viaCaddy: Readonly<Record<string, HttpOutcome>>;
  readonly sockets: readonly ListeningSocket[] | { readonly error: string };
  readonly certificates: readonly SiteCertificate[];
  readonly dns: readonly DnsAnswer[] | { readonly skipped: string };
  readonly capacity: CapacityFacts | { readonly error: string };
  /** `command -v` in a non-interactive SSH session; null when not found. */
  readonly tools: Readonly<Record<'node' | 'npm' | 'pm2', string | null>>;
  /** AWS only: the instance's security group ingress. */
  readonly securityGroup?: readonly SecurityGroupRule[] | { readonly error: string };
  readonly now: Date;
}

export const failed = <T extends object>(v: T | { readonly error: string }): v is { readonly error: string } =>
  typeof (v as { error?: unknown }).error === 'string';
