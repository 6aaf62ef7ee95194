import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTRY_HISTORY_DIR, REGISTRY_PATH } from '../../registry';
import { SERVICES_DIR } from '../../remote/layout';
import { SERVER_BUNDLE_DIR } from '../../package-root';
import { PATHS } from './constants';
import { Account } from './deploy-user';
import { asUserInNetns, run } from './exec';
import { standInRegistry } from './seed';
// The agent's own check of a registry, so the stand-in and the server agree on "corrupt".
import { parseRegistryText } from '../../agent/registry-rebuild';

const AGENT = join(SERVER_BUNDLE_DIR, 'agent.js');

const nonEmpty = (dir: string): boolean => {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
};

/** Why the stand-in's registry needs rebuilding ('missing' or the problem), or null when it is usable. */
export function registryTrouble(home: string): string | null {
  let text: string;
  try {
    text = readFileSync(join(home, REGISTRY_PATH), 'utf8');
  } catch {
    return 'missing';
  }
  const { problem } = parseRegistryText(text);
  return problem ? `corrupt (${problem})` : null;
}

/**
 * Before the bootstrap may seed a registry from cdk.json: when the registry is missing or corrupt but
 * the server has state (services, a Caddyfile, saved registry versions), rebuild it from the server
 * with the agent's `repair` (the same rebuild every deploy does; cdk.json is only its last resort, and
 * its services are added only where they clash with nothing running). Resolves to true when it ran.
 */
export function repairRegistry(account: Account, path: string, log: (line: string) => void): boolean {
  const trouble = registryTrouble(account.home);
  if (!trouble) return false;
  const hasState = existsSync(PATHS.caddyfile) || nonEmpty(join(account.home, SERVICES_DIR)) || nonEmpty(join(account.home, REGISTRY_HISTORY_DIR));
  if (!hasState) return false;
  log(`the registry (~/${REGISTRY_PATH}) is ${trouble} on a server with state: rebuilding it from the server, not from cdk.json`);
  const header = { who: 'portside local up', what: 'local up: rebuild the registry', declared: standInRegistry() };
  const argv = asUserInNetns(account, path, [`PORTSIDE_CADDYFILE=${PATHS.caddyfile}`, 'node', AGENT, 'repair']);
  const r = run(argv, { input: `${JSON.stringify(header)}\n`, stdio: ['pipe', 'pipe', 'pipe'], timeout: 90_000 });
  let result: { ok?: boolean; error?: string } | undefined;
  for (const line of r.stdout.split('\n')) {
    let m: { type?: string; text?: string; ok?: boolean; error?: string };
    try {
      m = JSON.parse(line);
    } catch {
      continue;
    }
    if (m.type === 'note') log(`  ${m.text}`);
    if (m.type === 'result') result = m;
  }
  if (!result?.ok) {
    throw new Error(`could not rebuild the stand-in's registry from the server (${result?.error ?? `agent exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`}); `
      + `nothing was seeded from cdk.json. Restore a saved version from ~${account.name}/${REGISTRY_HISTORY_DIR}/ or fix ~${account.name}/${REGISTRY_PATH} by hand, then run local up again`);
  }
  return true;
}
