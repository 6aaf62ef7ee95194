import { renderCaddyfile } from '../caddy/render-caddyfile';
import { Registry, RegistryKept } from '../registry/registry';
import { CURRENT_LINK, DEPLOYS_FILE, onServer, PM2_FILE, PORTSIDE_DIR, PRELOAD_FILE, RELEASES_SUBDIR, serviceDir } from '../remote/layout';
import { Pm2App, pm2App } from '../remote/pm2-app';
import type { AdoptPlan, PlannedService } from './plan-types';
import { ADOPTED_WWW } from './caddy-reach';
export { ADOPTED_WWW } from './caddy-reach';

/**
 * Portside's own Caddyfile as the agent, doctor and the registry name it (`paths.caddyfile`): a link,
 * ~/.portside/caddy → adoptedCaddyDir(plan), the folder Caddy's user can read, which the deploy user
 * writes (the agent swaps the file by rename there).
 */
export const ADOPTED_CADDYFILE = `${PORTSIDE_DIR}/caddy/Caddyfile`;
/** Names adopt adds to a service's folder (and undo removes); a folder that has one already is refused. */
export const ADDED_TO_FOLDER = [RELEASES_SUBDIR, CURRENT_LINK, DEPLOYS_FILE, PM2_FILE] as const;

/** How adopt and undo announce a step (the CLI prints it on stderr). */
export type Say = (line: string) => void;

/** How an adoption reports: `say` a line; `step(n, text)` announces step n (as "n/6 text") and throws when the run must stop before it. */
export interface Steps {
  readonly say: Say;
  step(n: number, text: string): void;
}

/** The pm2 name of a service's stand-in during a hand-over (it serves on a probe port). */
export const handoverName = (service: string): string => `portside-handover-${service}`;

/** The pm2 app of one adopted service: the agent's definition (lib/remote/pm2-app.ts). */
export type AdoptedApp = Pm2App;

/**
 * The pm2 definition of an adopted service, as the agent writes it (same keys, same order, so later
 * deploys treat it as theirs), except `args`: the student's own arguments are kept (`-- 3000 simon`),
 * with the port among them replaced when `port` differs (the hand-over's probe).
 */
export function adoptedApp(home: string, s: PlannedService, port: number, name = s.name): AdoptedApp {
  const args = s.process.args.map((a) => (a === String(s.port) ? String(port) : a));
  return pm2App({
    name, service: s.name, base: onServer(home, serviceDir(s.name)), start: { script: scriptOf(s) }, port, args,
    preload: onServer(home, PRELOAD_FILE),
  });
}

/** The service's script relative to its folder (`index.js`). */
export function scriptOf(s: PlannedService): string {
  const script = s.process.script ?? 'index.js';
  return s.folder && script.startsWith(`${s.folder}/`) ? script.slice(s.folder.length + 1) : script.replace(/^.*\//, '');
}

/**
 * Where the adopted static site's releases and Portside's Caddyfile live: `.portside-www` in the plan's
 * portsideRoot (a folder Caddy's user can read: caddy-reach.ts). A plan recorded before portsideRoot
 * existed keeps the place it was adopted with, so its undo removes what it made.
 */
export function adoptedWww(plan: AdoptPlan): string {
  if (plan.portsideRoot) return `${plan.portsideRoot}/${ADOPTED_WWW}`;
  if (plan.portsideRoot === null) throw new Error('this plan has no folder Caddy\'s user can read (its caddy-cannot-read problem): it cannot be applied');
  return plan.staticSite ? `${plan.staticSite.root.replace(/\/+$/, '')}/${ADOPTED_WWW}` : onServer(plan.server.home, `${PORTSIDE_DIR}/www`);
}

/** The folder that holds Portside's Caddyfile on an adopted server (ADOPTED_CADDYFILE's folder links here). */
export function adoptedCaddyDir(plan: AdoptPlan): string {
  return `${adoptedWww(plan)}/caddy`;
}

/** The line /etc/caddy/Caddyfile holds once adopted: Caddy started afresh (a restart, a reboot) loads Portside's Caddyfile. */
export function adoptedImport(plan: AdoptPlan): string {
  return `import ${adoptedCaddyDir(plan)}/Caddyfile`;
}

/** The registry an adoption writes: the plan's, plus paths and everything kept verbatim. */
export function adoptedRegistry(plan: AdoptPlan): Registry {
  const kept: RegistryKept = {
    global: keptGlobal(plan),
    site: plan.staticSite?.directives.kept.map((d) => d.text) ?? [],
    services: Object.fromEntries(plan.services.filter((s) => plan.registry.services[s.name] !== undefined && s.directives.kept.length).map((s) => [s.name, s.directives.kept.map((d) => d.text)])),
  };
  const extra = plan.keep.blocks.map((b) => b.text.trim()).join('\n\n');
  return {
    version: 1, ...plan.registry,
    paths: { www: adoptedWww(plan), caddyfile: onServer(plan.server.home, ADOPTED_CADDYFILE) },
    ...(extra ? { extra } : {}), kept,
  };
}

/** The Caddyfile with some services sent to other ports (their hand-over stand-ins); pure. */
export function caddyfileWith(registry: Registry, ports: Readonly<Record<string, number>> = {}): string {
  return renderCaddyfile({ ...registry, services: { ...registry.services, ...ports } });
}

/** The global options' top-level directives that Portside's rendered block does not already hold. */
function keptGlobal(plan: AdoptPlan): string[] {
  const text = plan.keep.globalOptions;
  if (!text) return [];
  const inner = text.slice(text.indexOf('{') + 1, text.lastIndexOf('}'));
  const rendered = new Set(renderCaddyfile({ ...plan.registry, paths: { www: '/' } }).split('\n}')[0].split('\n').map((l) => l.trim()));
  return topLevel(inner).filter((d) => !rendered.has(d.trim()));
}

/** Split a block's inside into its top-level directives (a `{ … }` stays with its directive). */
export function topLevel(inner: string): string[] {
  const out: string[] = [];
  let depth = 0;
  for (const raw of inner.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (!line.trim() || (depth === 0 && line.trim().startsWith('#'))) continue;
    if (depth === 0) out.push(line.trim());
    else out[out.length - 1] += `\n${line}`;
    depth += (line.match(/{/g) ?? []).length - (line.match(/}/g) ?? []).length;
  }
  return out;
}
