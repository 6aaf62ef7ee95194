// The preload's third promise: the release's env file (`.portside.env`, mode 0600) is loaded into
// process.env without any shell. Pure: which file, and what it says (the CLI's rule, lib/deploy/env-rules).
import * as path from 'path';
import { parseEnvText } from '../deploy/env-rules';
import { RELEASE_ENV_FILE } from '../remote/layout';

/**
 * The env file of the service this process runs. pm2 changes into the app's folder only after
 * preloads run, so the agent names the file (PORTSIDE_ENV_FILE). In cluster mode pm2 hands a worker
 * its environment as one JSON variable (pm2_env) that it unpacks after preloads, too.
 */
export function envFileName(env: NodeJS.ProcessEnv, cwd: string): string {
  if (env.PORTSIDE_ENV_FILE) return env.PORTSIDE_ENV_FILE;
  try {
    const pm2 = JSON.parse(env.pm2_env || '{}');
    const file = pm2.PORTSIDE_ENV_FILE || (pm2.env && pm2.env.PORTSIDE_ENV_FILE);
    if (file) return file;
    if (pm2.pm_cwd) return path.join(pm2.pm_cwd, RELEASE_ENV_FILE);
  } catch {
    /* not under pm2 */
  }
  return path.join(cwd, RELEASE_ENV_FILE);
}

/** An env file's KEY=value pairs, in order, by the one rule (parseEnvText); duplicates are kept. */
export function parseEnv(text: string): Array<[string, string]> {
  return parseEnvText(text).map(({ key, value }) => [key, value]);
}

/** The variables an env file adds: a variable already set (by pm2 or Portside) is never overridden. */
export function envAdditions(text: string, env: NodeJS.ProcessEnv): Array<[string, string]> {
  const added = new Map<string, string>();
  for (const [key, value] of parseEnv(text)) {
    if (env[key] === undefined && !added.has(key)) added.set(key, value);
  }
  return [...added];
}
