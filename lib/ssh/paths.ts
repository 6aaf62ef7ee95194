import { homedir } from 'node:os';
import { join } from 'node:path';

/** Portside's local state directory: `$PORTSIDE_HOME`, else `~/.portside`. */
export function portsideHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.PORTSIDE_HOME || join(homedir(), '.portside');
}

/** Where Portside pins host keys (its own file; `~/.ssh/known_hosts` is never touched). */
export function defaultKnownHostsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(portsideHome(env), 'known_hosts');
}
