import { RESERVED_PORTS, Exposure, WELL_KNOWN_PORTS, rangeOf, SERVICE_PORT_MIN, SERVICE_PORT_MAX } from './ranges';
import { ServicePorts } from './rules';

/** One row of the server's port table. */
export interface PortEntry {
  readonly port: number;
  readonly exposure: Exposure;
  readonly holder: string;
  readonly protocol?: string;
}

/** Every port the server uses, with who holds it and who may reach it, sorted by port. */
export function portTable(services: ServicePorts): PortEntry[] {
  const rows: PortEntry[] = RESERVED_PORTS.map((r) => ({ port: r.port, exposure: r.exposure, holder: r.holder, protocol: r.protocol }));
  for (const [name, port] of Object.entries(services)) {
    rows.push({ port, exposure: 'device', holder: `service "${name}"` });
  }
  return rows.sort((a, b) => a.port - b.port);
}

/** The ports that face outside the machine, by exposure: the security group is derived from this. */
export function ingressPorts(exposure: Exclude<Exposure, 'device'>): number[] {
  return RESERVED_PORTS.filter((r) => r.exposure === exposure).map((r) => r.port);
}

/** A paragraph that explains one port: its range, its well-known protocol, who holds it here. */
export function explainPort(port: number, services: ServicePorts): string {
  const range = rangeOf(port);
  if (!range || !Number.isInteger(port)) {
    return `${port} is not a TCP port: ports are whole numbers from 0 to 65535.`;
  }
  const lines = [`port ${port}: ${range.name} range ${range.from}–${range.to} (${range.meaning})`];
  const proto = WELL_KNOWN_PORTS[port];
  if (proto) lines.push(`well-known protocol: ${proto}`);
  const reserved = RESERVED_PORTS.find((r) => r.port === port);
  const owner = Object.entries(services).find(([, p]) => p === port);
  if (reserved) {
    lines.push(`held by: ${reserved.holder} (${reserved.protocol})${reserved.loopbackOnly ? ', bound to 127.0.0.1 only' : ''}`);
    lines.push(`exposure: ${reserved.exposure} — ${describeExposure(reserved.exposure)}`);
  } else if (owner) {
    lines.push(`held by: service "${owner[0]}"`);
    lines.push(`exposure: device — ${describeExposure('device')}`);
  } else if (port >= SERVICE_PORT_MIN && port <= SERVICE_PORT_MAX) {
    lines.push('held by: nobody — free for a service');
  } else {
    lines.push('held by: nobody — not assignable to a service');
  }
  return lines.join('\n');
}

export function describeExposure(e: Exposure): string {
  switch (e) {
    case 'world': return 'open to the whole internet (0.0.0.0/0, ::/0)';
    case 'school': return 'open only to schoolCidr';
    case 'device': return 'reachable only from the server itself; Caddy is its only way in';
  }
}
