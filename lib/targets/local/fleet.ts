import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { lookupAccount } from './deploy-user';
import { DEPLOY_USER, STATE_DIR } from './constants';
import { removeBuildUser } from './build-user';
import {
  FLEET_DIR, FLEET_HOST_ADDRESS, FLEET_JSON, FLEET_PATHS, fleetServerSpec, FleetServerSpec, LB_ADDRESS, LB_NETNS, MAX_FLEET_SERVERS,
  STORE_ADDRESS, STORE_NETNS,
} from './fleet-constants';
import { describeFleet, LocalFleet, removeFleetJson, writeFleetJson } from './fleet-description';
import { ensureLoadBalancer, loadBalancerHealth, registeredServers, stopLoadBalancer } from './fleet-lb';
import { deregisterServers, fleetServerNamed, loadBalancerTargets, Registration, registerWhenHealthy, registrationOf } from './fleet-register';
import { bridgeHealth, ensureBridge, ensureMember, FleetMember, memberHealth, removeBridge, removeMember } from './fleet-network';
import { ensureFleetServer, fleetMember, fleetServerHealth, removeFleetServer } from './fleet-server';
import { ensureStore, stopStore, storeHealth } from './fleet-store';
import { assertHostCanRunStandIn, ensureAptPackages, ensurePm2, npmHostConfig, serverPath } from './host-requirements';
import { withLock } from './lock';
import { netnsId, PartHealth } from './netns';
import { pidsInNetns, strandedPids, terminate } from './processes';
import { ensureProxy, ProxySite, proxyHealth, proxyUrl, registryTarget, stopProxy } from './registry-proxy';
import { ensureKeyPair } from './sshd';
import { loginHealth } from './login-check';

export interface LocalFleetUpOptions {
  /** How many stand-in servers (1…MAX_FLEET_SERVERS); servers above it that exist are removed. */
  readonly servers: number;
  /** Progress lines. @default - write to stderr */
  readonly log?: (line: string) => void;
  /** The bootstrap script to lay each server out with. @default - assets/bootstrap.sh */
  readonly bootstrapScript?: string;
}

const LB_MEMBER: FleetMember = { netns: LB_NETNS, hostIf: 'pf-lb', address: LB_ADDRESS };
const STORE_MEMBER: FleetMember = { netns: STORE_NETNS, hostIf: 'pf-store', address: STORE_ADDRESS };

const stderr = (line: string): void => void process.stderr.write(`${line}\n`);

/** The fleet's registry proxy: on the bridge's host address, for the fleet's servers only. */
function fleetProxy(servers: readonly FleetServerSpec[]): ProxySite {
  return { host: FLEET_HOST_ADDRESS, clients: [...servers.map((s) => s.address), FLEET_HOST_ADDRESS], pidFile: FLEET_PATHS.proxyPid, log: FLEET_PATHS.proxyLog };
}

/** A count of servers the fleet can have (a number, or --servers' text), or a RangeError that says the value and the rule. */
export function checkServerCount(n: number | string): number {
  const count = typeof n === 'number' ? n : /^\d+$/.test(n) ? Number(n) : NaN;
  if (!Number.isInteger(count) || count < 1 || count > MAX_FLEET_SERVERS) {
    throw new RangeError(`--servers ${typeof n === 'number' ? n : JSON.stringify(n)}: the local fleet has 1 to ${MAX_FLEET_SERVERS} servers (one network namespace, user, sshd and Caddy each); e.g. --servers 3`);
  }
  return count;
}

/**
 * Bring the local fleet up, or repair it, or resize it: the bridge, the registry proxy, the store, N
 * servers and the load balancer over them; then fleet.json. Idempotent: a healthy fleet of the same size
 * is only checked. The single stand-in is not touched.
 */
export async function localFleetUp(opts: LocalFleetUpOptions): Promise<LocalFleet> {
  const count = checkServerCount(opts.servers);
  const log = opts.log ?? stderr;
  assertHostCanRunStandIn();
  return withLock(async () => {
    const specs = Array.from({ length: count }, (_, i) => fleetServerSpec(i + 1));
    const ctx = await prepareHost(specs, log);
    const extras = existingServers().filter((s) => s.index > count);
    if (extras.length) await deregisterServers(extras.map((s) => s.address), log);
    for (const extra of extras) await removeFleetServer(extra, log);
    ensureMember(STORE_MEMBER, log);
    await ensureStore(log);
    const fingerprints: string[] = [];
    for (const spec of specs) {
      const fresh = ensureMember(fleetMember(spec), log) === 'created';
      fingerprints.push(await ensureFleetServer(spec, fresh, { ...ctx, log, bootstrapScript: opts.bootstrapScript }));
    }
    // A re-made namespace leaves the old Caddy running outside it (it names the LB's dir): stop it.
    if (ensureMember(LB_MEMBER, log) === 'created') await terminate(strandedPids(undefined, FLEET_PATHS.lbDir, netnsId(LB_NETNS)));
    // A new server joins only once healthy (fleet-register.ts), as a new ALB target gets nothing before.
    await ensureLoadBalancer(await loadBalancerTargets(specs, log), log);
    const fleet = describeFleet(specs, fingerprints);
    writeFleetJson(fleet);
    log(`local fleet is up: ${count} server(s) behind https://${fleet.domain}/ at ${LB_ADDRESS}; ${FLEET_JSON}`);
    return fleet;
  });
}

/** What every server needs from the host: packages, pm2, the bridge, the client key, the registry proxy. */
async function prepareHost(specs: readonly FleetServerSpec[], log: (line: string) => void) {
  for (const dir of [STATE_DIR, FLEET_DIR, FLEET_PATHS.logDir]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  mkdirSync(FLEET_PATHS.clientDir, { recursive: true, mode: 0o700 });
  const installLog = `${FLEET_PATHS.logDir}/install.log`;
  ensureAptPackages(log, installLog);
  const npm = npmHostConfig();
  const pm2 = ensurePm2(npm, log, installLog);
  ensureBridge(log);
  if (ensureKeyPair(FLEET_PATHS.clientKey, 'portside-local fleet client key')) log(`generated the fleet's client key ${FLEET_PATHS.clientKey}`);
  const registry = registryTarget(npm.registry);
  const proxy = fleetProxy(specs);
  await ensureProxy(registry, log, false, proxy);
  return {
    path: serverPath(pm2), registryUrl: registry.url, proxyUrl: proxyUrl(proxy),
    clientPublicKey: readFileSync(`${FLEET_PATHS.clientKey}.pub`, 'utf8'),
  };
}

/** Fleet servers with anything left of them (namespace, user or files), so down and resizes find them all. */
function existingServers(): FleetServerSpec[] {
  return Array.from({ length: MAX_FLEET_SERVERS }, (_, i) => fleetServerSpec(i + 1))
    .filter((s) => existsSync(`/run/netns/${s.netns}`) || existsSync(s.dir) || lookupAccount(s.user) !== undefined);
}

/** Whether any part of a fleet exists (fleet.json, its state dir, its bridge or a namespace). */
export function fleetExists(): boolean {
  return existsSync(FLEET_JSON) || existsSync(FLEET_DIR) || bridgeHealth().ok || existsSync(`/run/netns/${LB_NETNS}`) || existingServers().length > 0;
}

/** Take the local fleet down completely (caller holds the lock): fleet.json first, so nothing picks a dying fleet. */
export async function takeFleetDown(log: (line: string) => void): Promise<void> {
  removeFleetJson();
  for (const spec of existingServers()) await removeFleetServer(spec, log);
  log('stopping the load balancer, the store and the fleet\'s registry proxy');
  await stopLoadBalancer();
  await stopStore();
  await stopProxy(fleetProxy([]));
  const leftovers = [...pidsInNetns(LB_NETNS), ...pidsInNetns(STORE_NETNS), ...strandedPids(undefined, FLEET_DIR, undefined)]
    .filter((pid) => pid !== process.pid);
  if (leftovers.length) await terminate([...new Set(leftovers)]);
  removeMember(LB_MEMBER);
  removeMember(STORE_MEMBER);
  removeBridge();
  // The build user is shared with the single stand-in: it goes with the fleet only when that one is not there.
  if (!lookupAccount(DEPLOY_USER)) removeBuildUser();
  rmSync(FLEET_DIR, { recursive: true, force: true });
  log('local fleet is down');
}

/** `local down --fleet`: the fleet only; the single stand-in keeps running. Idempotent. */
export async function localFleetDown(opts: { readonly log?: (line: string) => void } = {}): Promise<void> {
  assertHostCanRunStandIn();
  await withLock(() => takeFleetDown(opts.log ?? stderr));
}

/**
 * `local register s<i>`, run in the background by `local up` for a server not yet healthy: wait until its
 * /_portside/health answers 200, then add it to the load balancer (fleet-register.ts). Resolves to where it is.
 */
export async function localFleetRegister(name: string, opts: { readonly log?: (line: string) => void } = {}): Promise<Registration> {
  const spec = fleetServerNamed(name);
  assertHostCanRunStandIn();
  return registerWhenHealthy(spec, opts.log ?? stderr);
}

/** One fleet server's parts, as `local status` reports them. */
export interface FleetServerStatus {
  readonly name: string;
  readonly address: string;
  readonly parts: { readonly netns: PartHealth; readonly sshd: PartHealth; readonly login: PartHealth; readonly caddy: PartHealth };
  /** What GET /_portside/health answers now: ok = 200 (converged); a 503 is the converge step's business, not a fault. */
  readonly health: PartHealth;
  /** Whether the load balancer proxies to it, or why not yet (a server joins once its health answers 200). */
  readonly loadBalancer: Registration;
}

export interface LocalFleetStatus {
  /** Every part of every server, the load balancer, the store and the proxy is healthy (health answers aside). */
  readonly up: boolean;
  readonly fleet?: LocalFleet;
  readonly parts: { readonly bridge: PartHealth; readonly proxy: PartHealth; readonly store: PartHealth; readonly loadBalancer: PartHealth };
  readonly servers: readonly FleetServerStatus[];
}

/** Check each part of the fleet (read-only: repairs are `localFleetUp`'s job). */
export async function localFleetStatus(): Promise<LocalFleetStatus> {
  assertHostCanRunStandIn();
  const fleet = existsSync(FLEET_JSON) ? (JSON.parse(readFileSync(FLEET_JSON, 'utf8')) as LocalFleet) : undefined;
  const specs = fleet ? fleet.servers.map((s) => fleetServerSpec(Number(s.name.slice(1)))) : existingServers();
  const [proxy, store, loadBalancer] = await Promise.all([proxyHealth(fleetProxy(specs)), storeHealth(), loadBalancerHealth()]);
  const parts = { bridge: bridgeHealth(), proxy, store, loadBalancer };
  const registered = registeredServers();
  const servers = await Promise.all(specs.map((spec) => serverStatus(spec, fleet, registered)));
  const up = Boolean(fleet) && Object.values(parts).every((p) => p.ok) && servers.length > 0 && servers.every((s) => Object.values(s.parts).every((p) => p.ok));
  return { up, ...(fleet ? { fleet } : {}), parts, servers };
}

async function serverStatus(spec: FleetServerSpec, fleet: LocalFleet | undefined, registered: readonly string[]): Promise<FleetServerStatus> {
  const netns = memberHealth(fleetMember(spec));
  const { sshd, caddy, health } = await fleetServerHealth(spec);
  const recorded = fleet?.servers.find((s) => s.name === spec.name);
  const login = !recorded ? { ok: false, detail: 'not checked: fleet.json does not list this server' }
    : !sshd.ok ? { ok: false, detail: 'not checked: sshd is down' } : await loginHealth(recorded);
  return { name: spec.name, address: spec.address, parts: { netns, sshd, login, caddy }, health, loadBalancer: registrationOf(spec, registered) };
}
