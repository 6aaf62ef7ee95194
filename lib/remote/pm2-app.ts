/**
 * The pm2 definition of a Portside service (what `~/services/<name>/pm2.json` holds): one definition for
 * the agent, which writes it at each deploy, and for `portside adopt`, which writes the first one. Pure.
 */
import type { StartSpec } from '../protocol';
import { CURRENT_LINK, RELEASE_ENV_FILE } from './layout';

/** What pm2.json holds for a service: one app. */
export interface Pm2App {
  readonly name: string;
  readonly cwd: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly exec_mode: 'cluster' | 'fork';
  readonly env: Readonly<Record<string, string>>;
  readonly [option: string]: unknown;
}

/** Where the service lives and how it starts. */
export interface Pm2AppOptions {
  /** The pm2 name (the service's, or a hand-over stand-in's). */
  readonly name: string;
  /** The service's name, for PORTSIDE_SERVICE. @default name */
  readonly service?: string;
  /** The service's folder on the server, absolute (its `current` link is the working directory). */
  readonly base: string;
  readonly start: StartSpec;
  readonly port: number;
  /** The preload's absolute path on the server. */
  readonly preload: string;
  /** The script's arguments. @default [port] (an adopted service keeps its own, e.g. `3000 simon`) */
  readonly args?: readonly string[];
}

/**
 * The app for pm2.json. The key order is part of the contract: a redeploy reloads only when pm2.json's
 * app, stringified, equals this one's (an older agent's pm2.json has this order).
 */
export function pm2App(o: Pm2AppOptions): Pm2App {
  const cwd = `${o.base.replace(/\/+$/, '')}/${CURRENT_LINK}`;
  const common = {
    name: o.name,
    cwd,
    args: o.args ?? [String(o.port)],
    env: { PORT: String(o.port), NODE_ENV: 'production', PORTSIDE_SERVICE: o.service ?? o.name, PORTSIDE_ENV_FILE: `${cwd}/${RELEASE_ENV_FILE}` } as Record<string, string>,
    kill_timeout: 5000,
    listen_timeout: 10000,
    max_restarts: 10,
    min_uptime: 2000,
    merge_logs: true,
    time: true,
  };
  if (o.start.script) {
    return { ...common, script: `${cwd}/${o.start.script}`, exec_mode: 'cluster', instances: 1, node_args: ['--require', o.preload] };
  }
  return {
    ...common,
    script: 'npm',
    args: ['run', o.start.npmScript || 'start', '--', String(o.port)],
    exec_mode: 'fork',
    env: { ...common.env, NODE_OPTIONS: `--require ${o.preload}` },
  };
}
