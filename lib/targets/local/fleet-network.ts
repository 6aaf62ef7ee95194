import { existsSync } from 'node:fs';
import { FLEET_BRIDGE, FLEET_HOST_ADDRESS, FLEET_PREFIX_LENGTH } from './fleet-constants';
import { inNetns, run, runOrThrow } from './exec';
import { HostRequirementError } from './host-requirements';
import { PartHealth } from './netns';

/** One namespace on the fleet's bridge: the load balancer, the store or a server. */
export interface FleetMember {
  readonly netns: string;
  /** The host side of its veth, enslaved to the bridge. */
  readonly hostIf: string;
  readonly address: string;
}

/**
 * The bridge's own MAC, fixed: a Linux bridge otherwise takes the lowest MAC of its ports and changes it
 * whenever a port comes or goes (a server added or removed), and the namespaces keep sending to the old
 * one until their ARP entry expires (measured: `npm view` from a server through the proxy on the bridge
 * hung for 60 s after a resize). Locally administered (02:…), spelling "psflt".
 */
const BRIDGE_MAC = '02:70:73:66:6c:74';
/**
 * A member's MAC, fixed from its address for the same reason: a server removed and added again (a resize, a
 * replaced server) would otherwise come back with a new random MAC while the load balancer's namespace still
 * sends to the old one (measured: a re-added server stayed out of the rotation for over 10 s).
 */
export function memberMac(address: string): string {
  return ['02', '00', ...address.split('.').map((n) => Number(n).toString(16).padStart(2, '0'))].join(':');
}
/** The namespace side of every member's veth. */
const NS_IF = 'eth0';
const FLEET_NET_PREFIX = FLEET_HOST_ADDRESS.replace(/\.\d+$/, '.');

/** The bridge with the host's address on it, made or repaired. Idempotent. */
export function ensureBridge(log: (line: string) => void): void {
  assertFleetAddressesFree();
  if (run(['ip', 'link', 'show', FLEET_BRIDGE]).code !== 0) {
    log(`creating bridge ${FLEET_BRIDGE} (${FLEET_HOST_ADDRESS}/${FLEET_PREFIX_LENGTH})`);
    runOrThrow(['ip', 'link', 'add', FLEET_BRIDGE, 'type', 'bridge']);
  }
  runOrThrow(['ip', 'link', 'set', FLEET_BRIDGE, 'address', BRIDGE_MAC]);
  runOrThrow(['ip', 'addr', 'replace', `${FLEET_HOST_ADDRESS}/${FLEET_PREFIX_LENGTH}`, 'dev', FLEET_BRIDGE]);
  runOrThrow(['ip', 'link', 'set', FLEET_BRIDGE, 'up']);
}

/**
 * A member's namespace and veth on the bridge, fixing what a killed run left half made. `created`: the
 * namespace is new (nothing inside survived); `repaired`: the veth was remade; `ok`: nothing to do.
 */
export function ensureMember(m: FleetMember, log: (line: string) => void): 'created' | 'repaired' | 'ok' {
  const file = `/run/netns/${m.netns}`;
  if (existsSync(file) && run(inNetns(['true'], m.netns)).code !== 0) {
    log(`removing a stale network namespace "${m.netns}"`);
    run(['ip', 'netns', 'del', m.netns]);
  }
  const created = !existsSync(file);
  if (created) {
    log(`creating network namespace "${m.netns}" (${m.address})`);
    runOrThrow(['ip', 'netns', 'add', m.netns]);
  }
  const hostSide = run(['ip', 'link', 'show', m.hostIf]).code === 0;
  const nsSide = run(['ip', '-n', m.netns, 'link', 'show', NS_IF]).code === 0;
  // A host side without its peer points at an older namespace (or nowhere): start the pair over.
  if (hostSide && !nsSide) run(['ip', 'link', 'del', m.hostIf]);
  const repaired = !hostSide || !nsSide;
  if (repaired) {
    if (nsSide) run(['ip', '-n', m.netns, 'link', 'del', NS_IF]);
    runOrThrow(['ip', 'link', 'add', m.hostIf, 'type', 'veth', 'peer', 'name', NS_IF, 'netns', m.netns]);
  }
  runOrThrow(['ip', 'link', 'set', m.hostIf, 'master', FLEET_BRIDGE]);
  runOrThrow(['ip', 'link', 'set', m.hostIf, 'up']);
  runOrThrow(['ip', '-n', m.netns, 'link', 'set', NS_IF, 'address', memberMac(m.address)]);
  runOrThrow(['ip', '-n', m.netns, 'addr', 'replace', `${m.address}/${FLEET_PREFIX_LENGTH}`, 'dev', NS_IF]);
  runOrThrow(['ip', '-n', m.netns, 'link', 'set', NS_IF, 'up']);
  runOrThrow(['ip', '-n', m.netns, 'link', 'set', 'lo', 'up']);
  return created ? 'created' : repaired ? 'repaired' : 'ok';
}

/** Delete a member's veth and namespace (its processes must be stopped first). Idempotent. */
export function removeMember(m: FleetMember): void {
  if (run(['ip', 'link', 'show', m.hostIf]).code === 0) run(['ip', 'link', 'del', m.hostIf]);
  if (existsSync(`/run/netns/${m.netns}`)) runOrThrow(['ip', 'netns', 'del', m.netns]);
}

/** Delete the bridge. Idempotent. */
export function removeBridge(): void {
  if (run(['ip', 'link', 'show', FLEET_BRIDGE]).code === 0) runOrThrow(['ip', 'link', 'del', FLEET_BRIDGE]);
}

/** The namespaces on the bridge now (`portside-*` with a `pf-*` veth), so `down` finds servers a crashed `up` left. */
export function bridgePorts(): string[] {
  const r = run(['ip', '-o', 'link', 'show', 'master', FLEET_BRIDGE]);
  return r.code === 0 ? [...r.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1]) : [];
}

/** The bridge exists and has the host's fleet address. */
export function bridgeHealth(): PartHealth {
  const r = run(['ip', '-o', 'addr', 'show', 'dev', FLEET_BRIDGE]);
  if (r.code !== 0) return { ok: false, detail: `bridge ${FLEET_BRIDGE} does not exist` };
  if (!r.stdout.includes(`inet ${FLEET_HOST_ADDRESS}/`)) return { ok: false, detail: `${FLEET_BRIDGE} has no ${FLEET_HOST_ADDRESS}` };
  return { ok: true, detail: `${FLEET_BRIDGE} ${FLEET_HOST_ADDRESS}/${FLEET_PREFIX_LENGTH}` };
}

/** A member's namespace exists, has its address, and its veth is on the bridge. */
export function memberHealth(m: FleetMember): PartHealth {
  if (!existsSync(`/run/netns/${m.netns}`)) return { ok: false, detail: `namespace "${m.netns}" does not exist` };
  const inside = run(['ip', '-n', m.netns, '-o', 'addr', 'show', 'dev', NS_IF]);
  if (inside.code !== 0 || !inside.stdout.includes(`inet ${m.address}/`)) return { ok: false, detail: `${m.netns} has no ${m.address}` };
  if (!run(['ip', '-o', 'link', 'show', 'master', FLEET_BRIDGE]).stdout.includes(`${m.hostIf}@`)) {
    return { ok: false, detail: `${m.hostIf} is not on ${FLEET_BRIDGE}` };
  }
  return { ok: true, detail: `${m.netns} ${m.address} via ${m.hostIf}` };
}

/** Refuse to start when the host already uses the fleet's network on another interface. */
function assertFleetAddressesFree(): void {
  const r = run(['ip', '-o', '-4', 'addr', 'show']);
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet (\d+\.\d+\.\d+\.\d+)\//.exec(line);
    if (m && m[1] !== FLEET_BRIDGE && m[2].startsWith(FLEET_NET_PREFIX)) {
      throw new HostRequirementError(`${m[2]} is already assigned to ${m[1]} on this host; the local fleet needs ${FLEET_NET_PREFIX}0/${FLEET_PREFIX_LENGTH}`,
        `Free it (ip addr del ${m[2]}/… dev ${m[1]}) if that interface is not in use.`);
    }
  }
}
