/**
 * The IANA port ranges (RFC 6335) and the ports every Portside server holds for itself.
 * This module is the one place these numbers live: validation, the security group,
 * `portside ports` and the deploy CLI all read them from here.
 */

/** A range of TCP ports, inclusive at both ends. */
export interface PortRange {
  readonly name: 'well-known' | 'registered' | 'dynamic';
  readonly from: number;
  readonly to: number;
  readonly meaning: string;
}

export const PORT_RANGES: readonly PortRange[] = [
  { name: 'well-known', from: 0, to: 1023, meaning: 'well-known protocols (system ports); never a service port' },
  { name: 'registered', from: 1024, to: 49151, meaning: 'registered ports; service ports live here' },
  { name: 'dynamic', from: 49152, to: 65535, meaning: 'dynamic/ephemeral ports; free for transient use, never assigned to a service' },
];

/** Where service ports may be assigned. */
export const SERVICE_PORT_MIN = 1024;
export const SERVICE_PORT_MAX = 49151;

/** Where allocation of a port for a new service starts. */
export const FIRST_SERVICE_PORT = 3000;

/** Common well-known protocols, for messages and `portside ports`. */
export const WELL_KNOWN_PORTS: Readonly<Record<number, string>> = {
  20: 'FTP data',
  21: 'FTP control',
  22: 'SSH',
  25: 'SMTP',
  53: 'DNS',
  80: 'HTTP',
  110: 'POP3',
  123: 'NTP',
  143: 'IMAP',
  161: 'SNMP',
  194: 'IRC',
  443: 'HTTPS',
};

/** Who faces a port: the whole internet, the school's network, or only the machine itself. */
export type Exposure = 'world' | 'school' | 'device';

/** A port the server itself holds; no service may take it. */
export interface ReservedPort {
  readonly port: number;
  readonly holder: string;
  readonly protocol: string;
  readonly exposure: Exposure;
  /** Whether the listener binds only to loopback. */
  readonly loopbackOnly: boolean;
}

export const RESERVED_PORTS: readonly ReservedPort[] = [
  { port: 22, holder: 'sshd', protocol: 'SSH', exposure: 'school', loopbackOnly: false },
  { port: 80, holder: 'Caddy', protocol: 'HTTP', exposure: 'world', loopbackOnly: false },
  { port: 443, holder: 'Caddy', protocol: 'HTTPS', exposure: 'world', loopbackOnly: false },
  { port: 2019, holder: 'Caddy', protocol: "Caddy's admin API", exposure: 'device', loopbackOnly: true },
];

/** The range a port falls in, or undefined when it is not a TCP port number at all. */
export function rangeOf(port: number): PortRange | undefined {
  return PORT_RANGES.find((r) => port >= r.from && port <= r.to);
}

export function isPortNumber(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}
