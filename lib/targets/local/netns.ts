import { existsSync, statSync } from 'node:fs';
import { HOST_ADDRESS, HOST_IF, NETNS, NS_IF, PREFIX_LENGTH, SERVER_ADDRESS } from './constants';
import { inNetns, run, runOrThrow } from './exec';
import { HostRequirementError } from './host-requirements';

export interface PartHealth {
  readonly ok: boolean;
  readonly detail: string;
}

const NETNS_FILE = `/run/netns/${NETNS}`;

/** `net:[inode]` of a stand-in's namespace (the single one's by default), as /proc/<pid>/ns/net reads for its processes. */
export function netnsId(netns = NETNS): string | undefined {
  const file = `/run/netns/${netns}`;
  return existsSync(file) ? `net:[${statSync(file).ino}]` : undefined;
}

/**
 * Make the namespace, the veth pair and the addresses, fixing whatever a killed run or an earlier
 * session left half made. `created`: the namespace itself is new, so nothing inside it survived;
 * `repaired`: the veth was remade; `ok`: nothing to do.
 */
export function ensureNetns(log: (line: string) => void): 'created' | 'repaired' | 'ok' {
  assertAddressesFree();
  let created = false;
  if (existsSync(NETNS_FILE) && run(inNetns(['true'])).code !== 0) {
    log(`removing a stale network namespace "${NETNS}"`);
    run(['ip', 'netns', 'del', NETNS]);
  }
  if (!existsSync(NETNS_FILE)) {
    log(`creating network namespace "${NETNS}"`);
    runOrThrow(['ip', 'netns', 'add', NETNS]);
    created = true;
  }
  const hostSide = run(['ip', 'link', 'show', HOST_IF]).code === 0;
  const nsSide = run(['ip', '-n', NETNS, 'link', 'show', NS_IF]).code === 0;
  if (hostSide && !nsSide) {
    // Its peer is in an older namespace (or gone): start the pair over.
    run(['ip', 'link', 'del', HOST_IF]);
  }
  const repaired = !hostSide || !nsSide;
  if (repaired) {
    if (nsSide) run(['ip', '-n', NETNS, 'link', 'del', NS_IF]);
    log(`creating veth ${HOST_IF} (${HOST_ADDRESS}) <-> ${NS_IF} (${SERVER_ADDRESS})`);
    runOrThrow(['ip', 'link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF, 'netns', NETNS]);
  }
  runOrThrow(['ip', 'addr', 'replace', `${HOST_ADDRESS}/${PREFIX_LENGTH}`, 'dev', HOST_IF]);
  runOrThrow(['ip', 'link', 'set', HOST_IF, 'up']);
  runOrThrow(['ip', '-n', NETNS, 'addr', 'replace', `${SERVER_ADDRESS}/${PREFIX_LENGTH}`, 'dev', NS_IF]);
  runOrThrow(['ip', '-n', NETNS, 'link', 'set', NS_IF, 'up']);
  runOrThrow(['ip', '-n', NETNS, 'link', 'set', 'lo', 'up']);
  return created ? 'created' : repaired ? 'repaired' : 'ok';
}

/** Delete the veth pair and the namespace (processes inside must be stopped first). Idempotent. */
export function removeNetns(): void {
  if (run(['ip', 'link', 'show', HOST_IF]).code === 0) run(['ip', 'link', 'del', HOST_IF]);
  if (existsSync(NETNS_FILE)) runOrThrow(['ip', 'netns', 'del', NETNS]);
}

export function netnsHealth(): PartHealth {
  if (!existsSync(NETNS_FILE)) return { ok: false, detail: `namespace "${NETNS}" does not exist` };
  const inside = run(['ip', '-n', NETNS, '-o', 'addr', 'show']);
  if (inside.code !== 0) return { ok: false, detail: `namespace "${NETNS}" is stale: ${inside.stderr.trim()}` };
  const host = run(['ip', '-o', 'addr', 'show', 'dev', HOST_IF]);
  const problems = [
    ...(new RegExp(`${NS_IF}\\s+inet ${SERVER_ADDRESS.replace(/\./g, '\\.')}/`).test(inside.stdout) ? [] : [`${NS_IF} has no ${SERVER_ADDRESS}`]),
    ...(/\blo\s+inet 127\.0\.0\.1\//.test(inside.stdout) ? [] : ['loopback is down inside']),
    ...(host.code === 0 && host.stdout.includes(`inet ${HOST_ADDRESS}/`) ? [] : [`${HOST_IF} has no ${HOST_ADDRESS}`]),
    ...(run(['ip', 'link', 'show', HOST_IF, 'up']).stdout.includes(HOST_IF) ? [] : [`${HOST_IF} is down`]),
  ];
  return problems.length
    ? { ok: false, detail: problems.join('; ') }
    : { ok: true, detail: `${HOST_IF} ${HOST_ADDRESS}/${PREFIX_LENGTH} <-> ${NS_IF} ${SERVER_ADDRESS}/${PREFIX_LENGTH}` };
}

/** Refuse to start when the host already uses our addresses on some other interface. */
function assertAddressesFree(): void {
  const r = run(['ip', '-o', '-4', 'addr', 'show']);
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet (\d+\.\d+\.\d+\.\d+)\//.exec(line);
    if (m && m[1] !== HOST_IF && (m[2] === HOST_ADDRESS || m[2] === SERVER_ADDRESS)) {
      throw new HostRequirementError(`${m[2]} is already assigned to ${m[1]} on this host; the local server needs ${HOST_ADDRESS} and ${SERVER_ADDRESS}`,
        `Free them (ip addr del ${m[2]} dev ${m[1]}) if that interface is not in use.`);
    }
  }
}
