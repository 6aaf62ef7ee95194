/**
 * What crosses the wire between `portside doctor` (lib/doctor/gather.ts) and the facts script it runs
 * on the server (lib/doctor/remote/main.ts, bundled to dist/doctor/remote-facts.js). Both sides import
 * these types, so a change to one side fails `tsc` on the other.
 */
import type { CapacityFacts, HttpOutcome, Pm2Process, ServiceFolder, SiteCertificate } from '../types';

/** A fact that could not be read carries why. */
export type OrError<T> = T | { readonly error: string };

/** `read` mode: files, pm2's list, disk and memory, listening sockets. */
export interface RemoteRead {
  readonly registryText: string | null;
  /** Saved registry versions, newest first. @default - absent from a server that predates registry history */
  readonly registryHistory?: string[];
  readonly caddyfile: string | null;
  readonly pm2: OrError<Pm2Process[]>;
  readonly folders: ServiceFolder[];
  readonly capacity: OrError<CapacityFacts>;
  /** `ss -ltnpH`'s output, and whether it ran with sudo (only then are every socket's owners shown). */
  readonly sockets: OrError<{ readonly text: string; readonly privileged: boolean }>;
}

/** `probe` mode's request: what to GET and whose certificates to read, all on the server's loopback. */
export interface ProbeRequest {
  /** GET http://127.0.0.1:<port><path>, by service name. */
  readonly direct: ReadonlyArray<{ readonly name: string; readonly port: number; readonly path: string }>;
  /** GET <url> through Caddy (connecting to 127.0.0.1, with the URL's host name), by name. */
  readonly viaCaddy: ReadonlyArray<{ readonly name: string; readonly url: string }>;
  /** Host names whose certificate Caddy serves on the HTTPS port. */
  readonly certificates: readonly string[];
}

/** `probe` mode's answer. */
export interface ProbeAnswers {
  readonly direct: Record<string, HttpOutcome>;
  readonly viaCaddy: Record<string, HttpOutcome>;
  readonly certificates: SiteCertificate[];
}

/** The script's modes: its first argument. */
export type RemoteMode = 'read' | 'probe';
