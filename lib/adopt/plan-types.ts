import type { Routing } from '../config/portside-config';
import type { Directive } from './caddyfile-sites';
import type { CaddyConfigSource } from './facts';

/** What a student's server can have wrong, as adopt names it. */
export type ProblemKind =
  /** A site proxies to a port nothing listens on (every request gets 502). */
  | 'route-to-nothing'
  /** A pm2 process listens on a port no site reaches. */
  | 'unrouted-process'
  /** The site named after a service proxies to one port, the service listens on another. */
  | 'port-mismatch'
  /** Two blocks define the same site: Caddy answers with the first, the other is never reached. */
  | 'duplicate-site'
  /** A service listens on an address other than loopback: reachable without Caddy, from outside. */
  | 'exposed-port'
  /** A pm2 process is not online (stopped, errored, restarting). */
  | 'process-not-online'
  /** A pm2 name Portside cannot use as a service name (nor as a host name). */
  | 'invalid-name'
  /** A folder in ~/services that no pm2 process runs from. */
  | 'folder-without-process'
  /** A site proxies to a port a process outside pm2 listens on. */
  | 'route-to-unmanaged'
  /** The configuration file is not what Caddy runs (edited since the last reload). */
  | 'config-not-loaded'
  /** No folder both Caddy's user can read and the deploy user can write: Portside's Caddyfile would not load at Caddy's next start. */
  | 'caddy-cannot-read';

export interface Problem {
  readonly kind: ProblemKind;
  readonly message: string;
  /** What to do about it, and what adopting would do with it. */
  readonly fix: string;
  readonly service?: string;
  readonly port?: number;
  readonly host?: string;
  /** exposed-port: what a connection from where adopt ran saw (`open`, `refused`, `filtered`), when tried. */
  readonly outside?: 'open' | 'refused' | 'filtered';
}

/** A site's directives, split by who will write them once adopted. */
export interface SiteDirectives {
  /** Replaced by what Portside's renderer writes (its proxy to the service's real port, its static site, its headers). */
  readonly portside: readonly Directive[];
  /** Portside's renderer cannot express these: kept verbatim on that site. */
  readonly kept: readonly Directive[];
}

export interface PlannedService {
  readonly name: string;
  /** The port the process really listens on. */
  readonly port: number;
  /** Where the port was read: the listening socket of its pid, its PORT variable, or its arguments. */
  readonly portFrom: 'socket' | 'env' | 'args';
  /** Its folder on the server (absolute). */
  readonly folder: string | null;
  readonly process: {
    readonly pmId: number;
    readonly pid: number | null;
    readonly status: string;
    readonly execMode: string;
    readonly script: string | null;
    readonly args: readonly string[];
  };
  /** Host names whose site reaches it. */
  readonly hostnames: readonly string[];
  /** Path prefixes that reach it (`/simon/*`), for path routing. */
  readonly paths: readonly string[];
  /** The Caddyfile block that routes to it (its addresses), or null when none does. */
  readonly site: string | null;
  readonly directives: SiteDirectives;
  /** The addresses it listens on (`127.0.0.1`, `0.0.0.0`, `*`). */
  readonly listen: readonly string[];
}

export interface StaticSite {
  readonly hosts: readonly string[];
  /** The `root` Caddy serves. */
  readonly root: string;
  /** ~/public_html resolved, when it exists. */
  readonly publicHtml: string | null;
  readonly site: string | null;
  readonly directives: SiteDirectives;
}

/** A Caddyfile block that Portside's renderer cannot express, kept as written. */
export interface KeptBlock {
  /** Its addresses (`old.example.com`), `(name)` for a snippet, '' for the global options. */
  readonly key: string;
  readonly text: string;
  readonly why: string;
}

/** What `portside adopt` found and would do. Applying it is a later step; this is data only. */
export interface AdoptPlan {
  readonly server: {
    readonly user: string;
    readonly home: string;
    readonly caddy: { readonly binary: string | null; readonly pids: readonly number[]; readonly config: CaddyConfigSource };
    readonly node: { readonly path: string; readonly how: string; readonly onPath: boolean };
    readonly pm2: { readonly bin: string; readonly daemonPid: number };
  };
  readonly domain: string | null;
  readonly routing: Routing;
  readonly services: readonly PlannedService[];
  readonly staticSite: StaticSite | null;
  /**
   * The folder Portside's Caddyfile and static releases go in (`<root>/.portside-www`): one Caddy's user can
   * read and the deploy user can write (caddy-reach.ts). null when there is none (a `caddy-cannot-read` problem).
   * @default - absent in plans recorded before it existed: the static root, else ~/.portside/www (adoptedWww)
   */
  readonly portsideRoot?: string | null;
  readonly keep: { readonly globalOptions: string | null; readonly blocks: readonly KeptBlock[] };
  readonly problems: readonly Problem[];
  readonly notes: readonly string[];
  /**
   * What the plan was made from, so that applying can refuse a stale plan (the Caddyfile edited or a
   * process restarted since) and undo can check it restores exactly this.
   */
  readonly basis: {
    readonly caddyfile: string;
    readonly caddyfileSha256: string;
    readonly pm2: ReadonlyArray<{ readonly name: string; readonly pid: number | null }>;
  };
  /** The registry applying would write: the services keep their ports, the domain its name. */
  readonly registry: {
    readonly domain?: string;
    readonly email?: string;
    readonly routing: Routing;
    readonly tls: 'acme' | 'internal';
    readonly services: Readonly<Record<string, number>>;
  };
}

/** Why adopt will not plan for this server: what it found, and what to do. */
export interface Refusal {
  readonly reason: 'no-caddy' | 'caddy-not-running' | 'caddy-config-unknown' | 'caddy-config-invalid' | 'no-node' | 'no-pm2' | 'pm2-not-running';
  readonly found: string;
  readonly fix: string;
}
