import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTRY_PATH } from '../../registry';
import { DEPLOY_USER, NETNS, PATHS, REPO_ROOT, SERVER_ADDRESS } from './constants';
import { Account } from './deploy-user';
import { inNetns, run } from './exec';
import { PartHealth } from './netns';
import { pidsInNetns, processName, sleep, terminate } from './processes';
import { tcpExchange } from './probe';
import { writeSeedDir } from './seed';

export const BOOTSTRAP_SCRIPT = join(REPO_ROOT, 'assets', 'bootstrap.sh');

/** Caddy's environment: its data (the local CA, certificates) and config live in the state dir. */
const CADDY_ENV = { XDG_DATA_HOME: PATHS.xdgData, XDG_CONFIG_HOME: PATHS.xdgConfig };

function caddyPids(): number[] {
  return pidsInNetns().filter((pid) => processName(pid) === 'caddy');
}

async function answersHttp(): Promise<string | undefined> {
  const reply = await tcpExchange(SERVER_ADDRESS, 80, `HEAD / HTTP/1.1\r\nHost: ${SERVER_ADDRESS}\r\nConnection: close\r\n\r\n`, 2000);
  return reply?.startsWith('HTTP/') ? reply.split('\r\n')[0] : undefined;
}

/**
 * Lay the server out and start Caddy with assets/bootstrap.sh --local, the same script as EC2, whenever
 * Caddy is not serving. The script is idempotent and keeps what deploys own (the registry, the live
 * Caddyfile, the current site), so running it again only restarts Caddy. Resolves to true when it ran.
 */
export async function ensureCaddy(account: Account, log: (line: string) => void, bootstrapScript = BOOTSTRAP_SCRIPT): Promise<boolean> {
  const bootstrapped = existsSync(join(account.home, REGISTRY_PATH)) && existsSync(PATHS.caddyfile);
  if (bootstrapped && caddyPids().length > 0 && (await answersHttp()) && existsSync(PATHS.caCert)) return false;
  await bootstrap(bootstrapScript, bootstrapped, log);
  const deadline = Date.now() + 15000;
  while (!(await answersHttp()) || !existsSync(PATHS.caCert)) {
    if (Date.now() > deadline) {
      throw new Error(`Caddy is not answering on ${SERVER_ADDRESS}:80 or has not made its CA (${PATHS.caCert}); see ${PATHS.caddyLog} and ${PATHS.bootstrapLog}`);
    }
    await sleep(100);
  }
  return true;
}

async function bootstrap(script: string, again: boolean, log: (line: string) => void): Promise<void> {
  if (!existsSync(script)) {
    throw new Error(`${script} is missing: the stand-in is laid out by the same bootstrap script as EC2 (run with --local)`);
  }
  const seed = writeSeedDir();
  log(again
    ? `Caddy is not serving: running ${script} --local again (keeps the registry and Caddyfile; log: ${PATHS.bootstrapLog})`
    : `bootstrapping the server with ${script} --local (log: ${PATHS.bootstrapLog})`);
  const env = {
    ...process.env, ...CADDY_ENV,
    PORTSIDE_USER: DEPLOY_USER, PORTSIDE_WWW: PATHS.www, PORTSIDE_CADDY_DIR: PATHS.caddyDir, PORTSIDE_SEED_DIR: seed,
    PORTSIDE_CADDY_LOG: PATHS.caddyLog,
  };
  const fd = openSync(PATHS.bootstrapLog, 'a');
  try {
    // A file, not a pipe: Caddy started by the script inherits it and would keep a pipe open forever.
    const r = run(inNetns(['bash', script, '--local']), { env, stdio: ['ignore', fd, fd], timeout: 120_000 });
    if (r.code !== 0) {
      const tail = readFileSync(PATHS.bootstrapLog, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      throw new Error(`\`ip netns exec ${NETNS} bash ${script} --local\` exited with ${r.code}; last lines of ${PATHS.bootstrapLog}:\n${tail}`);
    }
  } finally {
    closeSync(fd);
  }
}

export async function stopCaddy(): Promise<void> {
  await terminate(caddyPids());
}

export async function caddyHealth(): Promise<PartHealth> {
  const pids = caddyPids();
  if (pids.length === 0) return { ok: false, detail: 'not running' };
  const status = await answersHttp();
  if (!status) return { ok: false, detail: `pid ${pids.join(',')} does not answer HTTP on ${SERVER_ADDRESS}:80` };
  if (!existsSync(PATHS.caCert)) return { ok: false, detail: `its CA root ${PATHS.caCert} is missing` };
  return { ok: true, detail: `pid ${pids.join(',')} on ${SERVER_ADDRESS}:80/443 (http: ${status})` };
}
