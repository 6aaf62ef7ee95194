import {
  FIRST_SERVICE_PORT, RESERVED_PORTS, SERVICE_PORT_MAX, SERVICE_PORT_MIN, WELL_KNOWN_PORTS, isPortNumber, rangeOf,
} from './ranges';

/** Service name → port, the shape of the registry's and the context's `services`. */
export type ServicePorts = Readonly<Record<string, number>>;

/**
 * Why `port` cannot be a service port, in the port's own terms, or undefined when it is fine.
 * `services` are the other services (the one being placed is excluded by `forService`).
 */
export function servicePortProblem(port: number, services: ServicePorts = {}, forService?: string): string | undefined {
  if (!isPortNumber(port)) {
    return `${port} is not a TCP port (a whole number from 0 to 65535); service ports are ${SERVICE_PORT_MIN}–${SERVICE_PORT_MAX}`;
  }
  const reserved = RESERVED_PORTS.find((r) => r.port === port);
  if (reserved) {
    const served = reserved.holder === 'sshd' ? 'the server\'s sshd' : reserved.holder;
    return `port ${port} is ${reserved.protocol}, already served by ${served}; pick a free port such as ${suggestFree(services, 1).join(', ')}`;
  }
  const range = rangeOf(port)!;
  if (range.name === 'well-known') {
    const proto = WELL_KNOWN_PORTS[port];
    return `port ${port} is ${proto ? `${proto}, ` : ''}in the well-known range 0–1023 (${proto ? 'a system protocol' : 'reserved for system protocols'}); service ports are ${SERVICE_PORT_MIN}–${SERVICE_PORT_MAX}, e.g. ${suggestFree(services, 1).join(', ')}`;
  }
  if (range.name === 'dynamic') {
    return `port ${port} is in the dynamic range 49152–65535 (left free for transient connections); service ports are ${SERVICE_PORT_MIN}–${SERVICE_PORT_MAX}, e.g. ${suggestFree(services, 1).join(', ')}`;
  }
  const owner = Object.entries(services).find(([name, p]) => p === port && name !== forService);
  if (owner) {
    return `port ${port} is already assigned to "${owner[0]}"; free: ${suggestFree(services, 2, port + 1).join(', ')}`;
  }
  return undefined;
}

/** Ports nobody holds, counting up from `from` (wrapping within the registered range). */
export function suggestFree(services: ServicePorts, count: number, from = FIRST_SERVICE_PORT): number[] {
  const taken = new Set<number>([...Object.values(services), ...RESERVED_PORTS.map((r) => r.port)]);
  const out: number[] = [];
  let p = Math.min(Math.max(from, SERVICE_PORT_MIN), SERVICE_PORT_MAX);
  for (let i = 0; i <= SERVICE_PORT_MAX - SERVICE_PORT_MIN && out.length < count; i++) {
    if (!taken.has(p)) out.push(p);
    p = p >= SERVICE_PORT_MAX ? SERVICE_PORT_MIN : p + 1;
  }
  return out;
}

/** The next free service port from 3000, for a new service deployed without a port. */
export function nextFreePort(services: ServicePorts): number {
  const [port] = suggestFree(services, 1);
  if (port === undefined) throw new Error('every registered port 1024–49151 is taken');
  return port;
}

/** Parse a port typed by a person: decimal digits only, so "0x50", "3e3", "80.5" and " 80" are refused. */
export function parsePort(text: string): number | undefined {
  return /^[0-9]{1,5}$/.test(text) ? Number(text) : undefined;
}
