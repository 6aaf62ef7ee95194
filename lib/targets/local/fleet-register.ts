/**
 * Which fleet servers the local load balancer proxies to, as the ALB's target group has its registered
 * targets. On AWS a newly registered target is in the `initial` state (Elb.RegistrationInProgress, then
 * Elb.InitialHealthChecking) and gets no request until it passes a health check:
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/check-target-health.html ("Target
 * states and reason codes") and target-group-health-checks.html ("After your target is registered, it must
 * pass one health check to be considered healthy"). Caddy 2.6.2 does the opposite with an upstream it has
 * just been given: healthy until its first active check fails (caddyserver/caddy#6410), so a server still
 * converging (its Caddy has no route yet: empty 200s) would get requests. So the stand-in registers a new
 * server only once its /_portside/health answers 200: `local up` keeps the servers already registered and
 * adds the healthy ones, and starts a registrar (`portside local register s<i>`, detached) for each other
 * one, which waits for its health to pass, then adds it and reloads the load balancer, under the lock.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PACKAGE_ROOT } from '../../package-root';
import { HEALTH_PATH } from '../../remote/layout';
import { bootPaths } from './fleet-boot';
import { FLEET_JSON, fleetServerSpec, FleetServerSpec, LB_HEALTH_INTERVAL_MS, MAX_FLEET_SERVERS } from './fleet-constants';
import type { LocalFleet } from './fleet-description';
import { ensureLoadBalancer, loadBalancerHealth, registeredServers } from './fleet-lb';
import { healthAnswer } from './fleet-server';
import { withLock } from './lock';
import { livePid, sleep } from './processes';

/**
 * A server's place in the load balancer, as `local status` reports it: `registered` (the load balancer
 * proxies to it and checks its health), `converging` (not yet: its boot is running), `registering` (not
 * yet: its registrar waits for its health to answer 200), `not registered` (neither runs: `local up` again).
 */
export type Registration = 'registered' | 'converging' | 'registering' | 'not registered';

/** How long a registrar waits for a server's health to pass before it gives up (`local up` starts another). */
const REGISTRAR_LIMIT_MS = 30 * 60_000;

/** The addresses of `addresses` that are fleet servers', in server order (s1, s2, …), so the Caddyfile is stable. */
function inServerOrder(addresses: ReadonlySet<string>): string[] {
  return Array.from({ length: MAX_FLEET_SERVERS }, (_, i) => fleetServerSpec(i + 1).address).filter((a) => addresses.has(a));
}

/**
 * The load balancer's servers after `local up` (pure): of `specs`, those already registered and those
 * whose health answers 200 (`healthy`). None qualifying (a load balancer made while every server converges)
 * means all of them: Caddy needs an upstream, and nothing healthy could answer anyway.
 */
export function lbTargets(specs: readonly FleetServerSpec[], registered: readonly string[], healthy: ReadonlySet<string>): string[] {
  const chosen = specs.filter((s) => registered.includes(s.address) || healthy.has(s.address)).map((s) => s.address);
  return chosen.length > 0 ? chosen : specs.map((s) => s.address);
}

/**
 * `local up`'s servers for the load balancer (caller holds the lock): see lbTargets. Each server left out
 * gets a registrar, unless one runs already (a second `local up` while it converges adds nothing).
 */
export async function loadBalancerTargets(specs: readonly FleetServerSpec[], log: (line: string) => void): Promise<string[]> {
  const registered = registeredServers();
  const unregistered = specs.filter((s) => !registered.includes(s.address));
  const answers = await Promise.all(unregistered.map(async (s) => [s.address, (await healthAnswer(s)).ok] as const));
  const healthy = new Set(answers.filter(([, ok]) => ok).map(([address]) => address));
  const targets = lbTargets(specs, registered, healthy);
  // A server that became healthy before this `local up` (its registrar had not got there yet) is added here:
  // say so in the registrar's words, as its registrar then finds it registered and has nothing to add.
  for (const spec of unregistered.filter((s) => healthy.has(s.address))) log(registeredLine(spec));
  for (const spec of specs.filter((s) => !targets.includes(s.address))) startRegistrar(spec, log);
  return targets;
}

/**
 * Before servers are removed (a shrink), take them out of a running load balancer, as a target is
 * deregistered before its instance terminates: no new request goes to them, and a request in flight ends
 * on the old configuration during the reload's grace period. Nothing when none of them is registered.
 */
export async function deregisterServers(addresses: readonly string[], log: (line: string) => void): Promise<void> {
  const registered = registeredServers();
  const remaining = registered.filter((a) => !addresses.includes(a));
  if (remaining.length === registered.length || remaining.length === 0 || !(await loadBalancerHealth()).ok) return;
  log(`taking ${registered.filter((a) => addresses.includes(a)).join(', ')} out of the load balancer before removing it`);
  await ensureLoadBalancer(remaining, log);
}

/** Start a server's registrar in the background (its pid in bootPaths().registrarPid), unless one runs. */
function startRegistrar(spec: FleetServerSpec, log: (line: string) => void): void {
  const { registrarPid, registrarLog } = bootPaths(spec);
  if (livePid(registrarPid)) return;
  mkdirSync(dirname(registrarPid), { recursive: true, mode: 0o700 });
  const fd = openSync(registrarLog, 'a');
  try {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'portside.js'), 'local', 'register', spec.name], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    writeFileSync(registrarPid, `${child.pid}\n`);
  } finally {
    closeSync(fd);
  }
  log(`${spec.name}: not in the load balancer until its ${HEALTH_PATH} answers 200 (as a new ALB target is in its initial state); it is added then (log ${registrarLog})`);
}

/** A fleet server's spec from its name (`s<i>`), or a RangeError with the value and the rule. */
export function fleetServerNamed(name: string): FleetServerSpec {
  const index = /^s(\d+)$/.exec(name) ? Number(name.slice(1)) : NaN;
  if (!Number.isInteger(index) || index < 1 || index > MAX_FLEET_SERVERS) {
    throw new RangeError(`fleet server ${JSON.stringify(name)}: a fleet server is named s1…s${MAX_FLEET_SERVERS}; e.g. s4`);
  }
  return fleetServerSpec(index);
}

/**
 * The registrar (`portside local register s<i>`): ask the server's health every LB_HEALTH_INTERVAL_MS
 * until it answers 200, then add it to the load balancer. Ends when it is registered, or the server is gone.
 */
export async function registerWhenHealthy(spec: FleetServerSpec, log: (line: string) => void): Promise<Registration> {
  const deadline = Date.now() + REGISTRAR_LIMIT_MS;
  for (;;) {
    if (!existsSync(spec.dir)) return 'not registered';
    if ((await healthAnswer(spec)).ok) {
      const outcome = await withLock(() => registerNow(spec, log));
      if (outcome !== 'unhealthy') return outcome;
    }
    if (Date.now() > deadline) {
      throw new Error(`${spec.name}: its ${HEALTH_PATH} did not answer 200 within ${REGISTRAR_LIMIT_MS / 60_000} min, so it is not in the load balancer; see ${bootPaths(spec).log}, then run \`portside local up --servers N\` again`);
    }
    await sleep(LB_HEALTH_INTERVAL_MS);
  }
}

/** Under the lock: the server still in the fleet and healthy is added to the load balancer's servers. */
async function registerNow(spec: FleetServerSpec, log: (line: string) => void): Promise<Registration | 'unhealthy'> {
  const listed = existsSync(FLEET_JSON) && (JSON.parse(readFileSync(FLEET_JSON, 'utf8')) as LocalFleet).servers.some((s) => s.name === spec.name);
  if (!existsSync(spec.dir) || !listed) {
    log(`${new Date().toISOString()} ${spec.name}: no longer in the fleet; not registered`);
    return 'not registered';
  }
  const registered = registeredServers();
  if (registered.includes(spec.address)) {
    log(`${new Date().toISOString()} ${spec.name}: already registered with the load balancer (a later \`local up\` found it healthy first)`);
    return 'registered';
  }
  if (!(await healthAnswer(spec)).ok) return 'unhealthy';
  await ensureLoadBalancer(inServerOrder(new Set([...registered, spec.address])), log);
  log(`${new Date().toISOString()} ${registeredLine(spec)}`);
  return 'registered';
}

/** What `local up` and a registrar say when they add a healthy server to the load balancer: the same words. */
function registeredLine(spec: FleetServerSpec): string {
  return `${spec.name}: ${HEALTH_PATH} answers 200; registered with the load balancer`;
}

/** A server's registration now, for `local status` (registered: the load balancer's servers). */
export function registrationOf(spec: FleetServerSpec, registered: readonly string[]): Registration {
  if (registered.includes(spec.address)) return 'registered';
  if (livePid(bootPaths(spec).pid)) return 'converging';
  return livePid(bootPaths(spec).registrarPid) ? 'registering' : 'not registered';
}
