/**
 * pm2's process list, read in one place: the agent (its daemon's answer or `pm2 jlist`), doctor and
 * the tests all take the list and a process's port from here. Pure.
 */

/** The fields of a pm2 process environment Portside reads. */
export interface Pm2Env {
  readonly status?: string;
  readonly PORT?: string | number;
  readonly env?: { readonly PORT?: string | number; readonly NODE_OPTIONS?: string; readonly [key: string]: unknown };
  readonly exec_mode?: string;
  readonly node_args?: unknown;
  readonly NODE_OPTIONS?: string;
  readonly restart_time?: number;
  readonly pm_cwd?: string;
  readonly [key: string]: unknown;
}

/** One process in pm2's list (`pm2 jlist`, or the daemon's getMonitorData: the same shape). */
export interface Pm2Process {
  readonly name: string;
  readonly pid?: number;
  readonly pm_id?: number;
  readonly pm2_env?: Pm2Env;
}

/**
 * The list from `pm2 jlist`'s output. The first call also prints "[PM2] Spawning PM2 daemon…" lines:
 * the list is the last line that starts with "[" and parses. No such line: an empty list.
 */
export function parsePm2Jlist(stdout: string): Pm2Process[] {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('[')) continue;
    try {
      const list: unknown = JSON.parse(line);
      if (Array.isArray(list)) return list as Pm2Process[];
    } catch {
      /* a log line that starts with "[" */
    }
  }
  return [];
}

/** The port a process was started with (its PORT variable), or null when it has none. */
export function pm2Port(p: Pm2Process | null | undefined): number | null {
  const env = p?.pm2_env ?? {};
  return Number(env.env?.PORT || env.PORT) || null;
}
