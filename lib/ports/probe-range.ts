/**
 * Where a new release's probe listens (pure): the part of the dynamic range (PROBE_PORT_MIN–MAX, which no
 * service may be assigned) outside the kernel's ephemeral range, the ports Linux gives outgoing connections
 * (net.ipv4.ip_local_port_range, 32768–60999 by default: https://docs.kernel.org/networking/ip-sysctl.html).
 * A probe port that is free when checked can be taken a moment later as the local port of an outgoing
 * loopback connection (Caddy to a service, a health check), and the probe then dies with EADDRINUSE: seen
 * once in a bench run, a deploy refused for nothing.
 */
import { PROBE_PORT_MAX, PROBE_PORT_MIN } from '../remote/layout';

/** An inclusive range of ports. */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** The file that holds the ephemeral range on Linux ("32768\t60999"). */
export const EPHEMERAL_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';

/** The ephemeral range from EPHEMERAL_RANGE_FILE's text, or null when it is not two ordered port numbers. */
export function parseEphemeralRange(text: string): PortRange | null {
  const [min, max] = text.trim().split(/\s+/).map(Number);
  return Number.isInteger(min) && Number.isInteger(max) && min >= 1 && min <= max && max <= 65535 ? { min, max } : null;
}

/**
 * The probe ports given the ephemeral range (null: unknown): the larger part of the dynamic range left
 * outside it; none left (an unusual kernel setting) keeps the whole dynamic range.
 */
export function probeRange(ephemeral: PortRange | null): PortRange {
  const whole = { min: PROBE_PORT_MIN, max: PROBE_PORT_MAX };
  if (!ephemeral) return whole;
  const above = { min: Math.max(PROBE_PORT_MIN, ephemeral.max + 1), max: PROBE_PORT_MAX };
  const below = { min: PROBE_PORT_MIN, max: Math.min(PROBE_PORT_MAX, ephemeral.min - 1) };
  const size = (r: PortRange): number => Math.max(0, r.max - r.min + 1);
  const best = size(above) >= size(below) ? above : below;
  return size(best) > 0 ? best : whole;
}
