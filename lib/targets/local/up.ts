import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caddyHealth, ensureCaddy } from './caddy';
import { DEPLOY_USER, DOMAIN, PATHS, SERVER_ADDRESS, SSH_PORT, STATE_DIR } from './constants';
import { ensureBuildUser } from './build-user';
import { Account, authorizeKey, ensureAccount, renderNpmrc, writeUserFile } from './deploy-user';
import { asUserInNetns, run } from './exec';
import { assertHostCanRunStandIn, ensureAptPackages, ensurePm2, npmHostConfig, serverPath } from './host-requirements';
import { LocalServer, writeLocalServer } from './local-server';
import { withLock } from './lock';
import { ensureNetns, netnsId } from './netns';
import { strandedPids, terminate } from './processes';
import { ensureProxy, proxyAnswerFor, PROXY_URL, registryTarget } from './registry-proxy';
import { ensureKeyPair, ensureSshd, hostKeyFingerprint } from './sshd';
import { repairRegistry } from './registry-repair';

export interface LocalUpOptions {
  /** Progress lines (one per step that does something). @default - write to stderr */
  readonly log?: (line: string) => void;
  /** The bootstrap script to lay the server out with. @default - assets/bootstrap.sh */
  readonly bootstrapScript?: string;
}

/** A host the proxy must refuse: checked at every (re)start so a too-open proxy is caught at once. */
const FORBIDDEN_PROBE = 'example.com:443';

/**
 * Bring the local stand-in server up, or repair what is not running. Idempotent: when everything is
 * healthy it only checks and returns (well under a second); keys and the layout are kept.
 */
export async function localUp(opts: LocalUpOptions = {}): Promise<LocalServer> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  assertHostCanRunStandIn();
  return withLock(() => bringUp(log, opts.bootstrapScript));
}

/** The steps of `localUp`, in order; each checks first and repairs only what is missing. */
async function bringUp(log: (line: string) => void, bootstrapScript: string | undefined): Promise<LocalServer> {
  makeStateDirs();
  const installLog = `${PATHS.logDir}/install.log`;
  ensureAptPackages(log, installLog);
  const npm = npmHostConfig();
  const pm2 = ensurePm2(npm, log, installLog);

  const network = ensureNetns(log);
  const fresh = network === 'created';
  const account = ensureAccount(log);
  ensureBuildUser(log, bootstrapScript);
  if (fresh) await stopStranded(account, log);
  ensureLoginKeys(account, log);
  const registry = registryTarget(npm.registry);
  writeUserFile(account, '.npmrc', renderNpmrc(registry.url, PROXY_URL), 0o644);

  const path = serverPath(pm2);
  // A lost registry on a server with services is rebuilt from the server before the bootstrap
  // could seed one from cdk.json (which would drop every service deployed with the CLI).
  repairRegistry(account, path, log);
  const started = [
    await ensureProxy(registry, log, fresh),
    await ensureSshd(path, log),
    await ensureCaddy(account, log, bootstrapScript),
  ].some(Boolean);
  if (fresh) resurrectSaved(account, path, log);
  await checkServing(started || network !== 'ok', account, path, registry.hostPort, log);
  return recordServer(log);
}

function makeStateDirs(): void {
  for (const dir of [STATE_DIR, PATHS.logDir]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  // Keys live here: readable by root only.
  for (const dir of [PATHS.sshdDir, PATHS.clientDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** A new namespace leaves the deploy user's processes of the old one running outside it: stop them. */
async function stopStranded(account: Account, log: (line: string) => void): Promise<void> {
  const stranded = strandedPids(account.uid, STATE_DIR, netnsId());
  if (stranded.length) log(`stopping ${stranded.length} process(es) stranded in an old namespace`);
  await terminate(stranded);
}

/** The sshd host key and the client key (both kept when present), and the client key authorized. */
function ensureLoginKeys(account: Account, log: (line: string) => void): void {
  if (ensureKeyPair(PATHS.hostKey, 'portside-local host key')) log('generated the sshd host key');
  if (ensureKeyPair(PATHS.clientKey, 'portside-local client key')) log(`generated the client key ${PATHS.clientKey}`);
  authorizeKey(account, readFileSync(`${PATHS.clientKey}.pub`, 'utf8'));
}

/** As pm2's startup unit does on EC2 after a reboot: bring back the services saved with `pm2 save`. */
function resurrectSaved(account: Account, path: string, log: (line: string) => void): void {
  if (!existsSync(join(account.home, '.pm2', 'dump.pm2'))) return;
  log(`resurrecting ${DEPLOY_USER}'s saved pm2 processes`);
  run(asUserInNetns(account, path, ['pm2', 'resurrect']), { timeout: 60_000 });
}

/** After a (re)start, prove the network is registry-only; otherwise Caddy must be healthy and its CA in place. */
async function checkServing(restarted: boolean, account: Account, path: string, registryHostPort: string, log: (line: string) => void): Promise<void> {
  if (restarted) return checkRegistryOnly(account, path, registryHostPort, log);
  if (!(await caddyHealth()).ok || !existsSync(PATHS.caCert)) {
    throw new Error(`Caddy is not healthy; see ${PATHS.caddyLog}`);
  }
}

/** Record how to reach the server (for the CLI's `--target local`) and say it is up. */
function recordServer(log: (line: string) => void): LocalServer {
  const server: LocalServer = {
    address: SERVER_ADDRESS,
    sshPort: SSH_PORT,
    user: DEPLOY_USER,
    keyPath: PATHS.clientKey,
    domain: DOMAIN,
    caCertPath: PATHS.caCert,
    hostKeyFingerprint: hostKeyFingerprint(),
  };
  writeLocalServer(server);
  log(`local server is up: ssh -i ${server.keyPath} ${server.user}@${server.address}, https://${server.domain}/ at ${server.address}`);
  return server;
}

/** The server reaches the registry through the proxy, and the proxy refuses anything else. */
async function checkRegistryOnly(account: Account, path: string, registryHostPort: string, log: (line: string) => void): Promise<void> {
  log(`checking the server reaches ${registryHostPort} (npm view is-number version) and nothing else`);
  const r = run(asUserInNetns(account, path, ['npm', 'view', 'is-number', 'version']), { timeout: 60_000 });
  if (r.code !== 0 || !/^\d+\.\d+\.\d+/.test(r.stdout.trim())) {
    throw new Error(`\`npm view is-number version\` as ${DEPLOY_USER} inside the namespace failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}; see ${PATHS.proxyLog}`);
  }
  const answer = await proxyAnswerFor(FORBIDDEN_PROBE);
  if (!answer?.includes(' 403 ')) {
    throw new Error(`the registry proxy did not refuse CONNECT ${FORBIDDEN_PROBE} (answered ${JSON.stringify(answer)}); see ${PATHS.proxyLog}`);
  }
}
