import type { ListeningSocket, ProbeOutcome } from '../doctor/types';
import type { PortsideRootFacts } from './caddy-reach';

/** Something that could not be read, and why (kept so the plan or the refusal can say it). */
export interface Unread {
  readonly error: string;
}

export function unread(x: unknown): x is Unread {
  return typeof x === 'object' && x !== null && 'error' in x && Object.keys(x).length === 1;
}

/** A running Caddy: its pid and command line, as /proc shows them. */
export interface CaddyProcess {
  readonly pid: number;
  readonly argv: readonly string[];
}

/** One pm2 process, from `pm2 jlist`. */
export interface Pm2Process {
  readonly name: string;
  readonly pmId: number;
  readonly pid: number | null;
  readonly status: string;
  readonly execMode: string;
  /** The script pm2 runs (absolute). */
  readonly script: string | null;
  readonly cwd: string | null;
  /** What follows `--` in `pm2 start … -- <args>`. */
  readonly args: readonly string[];
  /** PORT from the process's environment, when set. */
  readonly envPort: number | null;
  /** The interpreter pm2 runs it with (`node` unless given). */
  readonly interpreter: string | null;
}

/** Where Caddy's configuration comes from, and how that was found out. */
export interface CaddyConfigSource {
  /** The file Caddy was started with, or null when it was started without one (`--resume`, API-only). */
  readonly file: string | null;
  /** The adapter: `caddyfile`, or null for a JSON file. */
  readonly adapter: string | null;
  /** How the file was found, for the plan: e.g. "the running Caddy's command line (pid 15)". */
  readonly how: string;
}

/**
 * Everything adopt reads from a server, as it is, before planning. Read only: nothing here is the
 * result of changing anything on the server.
 */
export interface ServerFacts {
  readonly user: string;
  readonly home: string;
  readonly caddy: {
    /** The binary (from the running process or the PATH), or null when there is none. */
    readonly binary: string | null;
    readonly processes: readonly CaddyProcess[];
    readonly source: CaddyConfigSource | null;
    /** The configuration file's text (a Caddyfile), when it could be read. */
    readonly text: string | Unread | null;
    /** `caddy adapt` of that file: the configuration as Caddy itself parses it. */
    readonly adapted: unknown | Unread | null;
    /** The configuration Caddy is running now, from its admin API (localhost:2019/config/). */
    readonly running: unknown | Unread | null;
  };
  readonly node: {
    /** The Node that pm2's daemon runs on (its /proc/<pid>/exe), else nvm's default, else the PATH's. */
    readonly path: string | null;
    readonly how: string;
    /** Whether a non-interactive SSH session finds `node` on its PATH. */
    readonly onPath: boolean;
  };
  readonly pm2: {
    readonly bin: string | null;
    readonly daemonPid: number | null;
    readonly processes: readonly Pm2Process[] | Unread | null;
  };
  readonly sockets: readonly ListeningSocket[] | Unread;
  /** Folder names in ~/services. */
  readonly serviceFolders: readonly string[];
  /** ~/public_html resolved, when it exists. */
  readonly publicHtml: string | null;
  /** Caddy's user and the folders that could hold Portside's Caddyfile (every static root, Caddy's default root). */
  readonly portsideRoots: PortsideRootFacts | Unread;
  /**
   * Connection attempts from where adopt runs to each port the server listens on beyond loopback
   * (22, 80 and 443 aside): what "reachable from outside" means in fact, security group included.
   * @default - not tried (the plan then says only what the sockets show)
   */
  readonly outside?: ReadonlyArray<{ readonly port: number; readonly outcome: ProbeOutcome }>;
}
