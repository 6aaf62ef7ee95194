import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderCaddyfile } from '../../caddy';
import { Registry, renderRegistry } from '../../registry';
import { CONVERGED_MARKER_FILE, HEALTH_PATH, HTTP_PORT, REGISTRY_FILE } from '../../remote/layout';
import { BuildRule, ensureBuildUser } from './build-user';
import { BOOTSTRAP_SCRIPT, CaddySite, caddyHealth, ensureCaddy, stopCaddy } from './caddy';
import { Account, authorizeKey, ensureAccount, lookupAccount, removeAccount, renderNpmrc, writeUserFile } from './deploy-user';
import { asUserInNetns, run } from './exec';
import { bootFleetServer, bootPaths } from './fleet-boot';
import { FLEET_DOMAIN, FLEET_HOST_ADDRESS, FleetServerSpec, LB_ADDRESS } from './fleet-constants';
import { FleetMember, removeMember } from './fleet-network';
import { netnsId, PartHealth } from './netns';
import { livePid, pidsInNetns, pidsOfUid, strandedPids, terminate } from './processes';
import { tcpExchange } from './probe';
import { seedFiles } from './seed';
import { ensureKeyPair, ensureSshd, hostKeyFingerprint, sessionPath, SshdSite, sshdHealth, stopSshd } from './sshd';

/** What every fleet server shares: where node/npm/pm2 are, the registry and its proxy, the client key. */
export interface FleetServerContext {
  /** The PATH an SSH session gets (serverPath). */
  readonly path: string;
  readonly registryUrl: string;
  readonly proxyUrl: string;
  /** The fleet's client public key (one key for all its servers, like one EC2 key pair). */
  readonly clientPublicKey: string;
  readonly bootstrapScript?: string;
  readonly log: (line: string) => void;
}

/** A server's place on the fleet's bridge. */
export function fleetMember(spec: FleetServerSpec): FleetMember {
  return { netns: spec.netns, hostIf: spec.hostIf, address: spec.address };
}

/** A server's sshd, for the single stand-in's sshd functions. */
export function sshdSite(spec: FleetServerSpec): SshdSite {
  return {
    netns: spec.netns, address: spec.address, from: FLEET_HOST_ADDRESS, user: spec.user,
    hostKey: spec.hostKey, config: spec.sshdConfig, pidFile: spec.sshdPid, log: spec.sshdLog,
  };
}

/** A server's Caddy and layout, for the single stand-in's Caddy functions (no CA: it serves no HTTPS). */
export function caddySite(spec: FleetServerSpec): CaddySite {
  return {
    netns: spec.netns, address: spec.address, from: FLEET_HOST_ADDRESS, user: spec.user, www: spec.www,
    caddyDir: spec.caddyDir, caddyfile: spec.caddyfile, xdgData: spec.xdgData, xdgConfig: spec.xdgConfig,
    caddyLog: spec.caddyLog, bootstrapLog: spec.bootstrapLog, writeSeed: () => writeFleetSeed(spec),
  };
}

/** A server's own sudo rule for the shared build user (the single stand-in's rule file names only its user). */
export function buildRule(spec: FleetServerSpec): BuildRule {
  return { user: spec.user, www: spec.www, caddyDir: spec.caddyDir, log: spec.bootstrapLog, sudoers: `/etc/sudoers.d/portside-fleet-${spec.name}` };
}

/**
 * A fleet server's first registry (pure): no services yet (a rollout brings them, as on AWS, where a new
 * server converges from the manifest), subdomain routing under the fleet's domain, and behind the load
 * balancer: plain HTTP on port 80, X-Forwarded-* believed only from the load balancer's address.
 */
export function fleetServerRegistry(spec: FleetServerSpec): Registry {
  return {
    version: 1, domain: FLEET_DOMAIN, routing: 'subdomain', tls: 'internal', services: {},
    paths: { www: spec.www, caddyfile: spec.caddyfile },
    loadBalancer: { trustedProxies: [`${LB_ADDRESS}/32`] },
  };
}

function writeFleetSeed(spec: FleetServerSpec): string {
  const registry = fleetServerRegistry(spec);
  const files = { 'registry.json': renderRegistry(registry), Caddyfile: renderCaddyfile(registry), 'index.html': seedFiles()['index.html'] };
  rmSync(spec.seedDir, { recursive: true, force: true });
  mkdirSync(spec.seedDir, { recursive: true, mode: 0o755 });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(spec.seedDir, name), content, { mode: name === 'registry.json' ? 0o600 : 0o644 });
  return spec.seedDir;
}

/**
 * Bring one fleet server up or repair it: its deploy user, host key, authorized client key, npm settings,
 * sshd and Caddy (laid out by assets/bootstrap.sh --local, as the single stand-in and EC2 are). `fresh`:
 * its namespace is new, so the user's processes of an old one are stopped first. Resolves to its host
 * key's fingerprint.
 */
export async function ensureFleetServer(spec: FleetServerSpec, fresh: boolean, ctx: FleetServerContext): Promise<string> {
  mkdirSync(spec.dir, { recursive: true, mode: 0o755 });
  mkdirSync(dirname(spec.hostKey), { recursive: true, mode: 0o700 });
  const account = ensureAccount(ctx.log, spec.user);
  // Allowed install scripts run as the build user, as on the single stand-in and EC2.
  ensureBuildUser(ctx.log, ctx.bootstrapScript ?? BOOTSTRAP_SCRIPT, buildRule(spec));
  if (fresh) await terminate(strandedPids(account.uid, spec.dir, netnsId(spec.netns)));
  if (ensureKeyPair(spec.hostKey, `portside-local fleet ${spec.name} host key`)) ctx.log(`generated the sshd host key of ${spec.name}`);
  authorizeKey(account, ctx.clientPublicKey);
  writeUserFile(account, '.npmrc', renderNpmrc(ctx.registryUrl, ctx.proxyUrl), 0o644);
  await ensureSshd(ctx.path, ctx.log, sshdSite(spec));
  await ensureCaddy(account, ctx.log, ctx.bootstrapScript ?? BOOTSTRAP_SCRIPT, caddySite(spec));
  assertLaidOut(spec, account);
  if (isNewServer(spec, account)) await bootFleetServer(spec, ctx.path, ctx.log);
  return hostKeyFingerprint(sshdSite(spec));
}

/**
 * A fresh server has its registry in its deploy user's home (bootstrap.sh seeds it, as on EC2): without it the
 * agent's first command would rebuild one, from a host where every fleet server's Caddy is visible.
 */
function assertLaidOut(spec: FleetServerSpec, account: Account): void {
  const registry = join(account.home, REGISTRY_FILE);
  if (!existsSync(registry)) {
    throw new Error(`fleet server ${spec.name}: ${registry} is missing after bootstrap.sh --local: every server starts with its seeded registry (${spec.seedDir}/registry.json); see ${spec.bootstrapLog} for where the script wrote it, then run \`portside local up --servers N\` again`);
  }
}

/**
 * A server with no registered service and no health marker has just been laid out (created, or re-created
 * after it was removed): it boots, as an EC2 fleet server does, through the converge hook (fleet-boot.ts),
 * which marks it converged at once when the store has no manifest, else converges it from the store in the
 * background. A server with services, or with the marker, is left to the converge step (lib/fleet).
 */
function isNewServer(spec: FleetServerSpec, account: Account): boolean {
  const registry = join(account.home, REGISTRY_FILE);
  const services = existsSync(registry) ? Object.keys((JSON.parse(readFileSync(registry, 'utf8')) as Registry).services ?? {}) : [];
  return services.length === 0 && !existsSync(join(spec.caddyDir, CONVERGED_MARKER_FILE));
}

/** Take one fleet server down completely: pm2, Caddy, sshd, any process left, its namespace, user and files. */
export async function removeFleetServer(spec: FleetServerSpec, log: (line: string) => void): Promise<void> {
  const account = lookupAccount(spec.user);
  const nsExists = netnsId(spec.netns) !== undefined;
  log(`removing fleet server ${spec.name} (${spec.address})`);
  if (account && nsExists && existsSync(join(account.home, '.pm2'))) {
    run(asUserInNetns(account, sessionPath(spec.sshdConfig) ?? process.env.PATH ?? '/usr/bin:/bin', ['pm2', 'kill'], spec.netns), { timeout: 20_000 });
  }
  await stopCaddy(caddySite(spec));
  await stopSshd(sshdSite(spec));
  // Its registrar runs on the host (not in the namespace, not as its user): by its pid file.
  const registrar = livePid(bootPaths(spec).registrarPid);
  const leftovers = [...pidsInNetns(spec.netns), ...(account ? pidsOfUid(account.uid) : []), ...strandedPids(account?.uid, spec.dir, undefined), ...(registrar ? [registrar] : [])]
    .filter((pid) => pid !== process.pid);
  if (leftovers.length) await terminate([...new Set(leftovers)]);
  removeMember(fleetMember(spec));
  rmSync(buildRule(spec).sudoers, { force: true });
  removeAccount(spec.user);
  rmSync(spec.dir, { recursive: true, force: true });
}

/** A fleet server's parts: sshd and Caddy as for the single stand-in, plus what its health check answers now. */
export async function fleetServerHealth(spec: FleetServerSpec): Promise<{ sshd: PartHealth; caddy: PartHealth; health: PartHealth }> {
  const [sshd, caddy, health] = await Promise.all([sshdHealth(sshdSite(spec)), caddyHealth(caddySite(spec)), healthAnswer(spec)]);
  return { sshd, caddy, health };
}

/** GET /_portside/health on the server's port 80: ok when 200 (converged); a 503 (converging) is reported, not repaired. */
export async function healthAnswer(spec: FleetServerSpec): Promise<PartHealth> {
  const reply = await tcpExchange(spec.address, HTTP_PORT, `GET ${HEALTH_PATH} HTTP/1.1\r\nHost: ${spec.address}\r\nConnection: close\r\n\r\n`, 2000, false, FLEET_HOST_ADDRESS);
  const status = reply?.startsWith('HTTP/') ? reply.split('\r\n')[0] : undefined;
  if (!status) return { ok: false, detail: `no answer on ${spec.address}:${HTTP_PORT}${HEALTH_PATH}` };
  return { ok: / 200 /.test(`${status} `), detail: `${HEALTH_PATH}: ${status.replace(/^HTTP\/[\d.]+ /, '')}` };
}
