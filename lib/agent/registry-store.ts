// The registry on disk, kept with its history: every write also saves the new version under
// ~/.portside/registry.history/ (the last REGISTRY_HISTORY_KEEP; the newest is the current one), and
// every Caddyfile a deploy replaces is saved under ~/.portside/caddyfile.history/. A missing or corrupt
// registry is rebuilt from the server itself (registry-rebuild.ts decides), said loudly, the corrupt
// file kept.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeFileAtomic } from '../fs/write-atomic';
import { EC2_PATHS } from '../registry/from-config';
import { Registry } from '../registry/registry';
import {
  CADDYFILE_HISTORY_DIR, CURRENT_LINK, PORTSIDE_DIR, REGISTRY_FILE, REGISTRY_HISTORY_DIR, REGISTRY_HISTORY_KEEP,
  RELEASE_MANIFEST, SERVICES_DIR,
} from '../remote/layout';
import { Pm2Process, pm2Port } from '../remote/pm2-list';
import { note } from './protocol-io';
import {
  CaddyProcess, chooseRunningCaddy, parseRegistryText, RebuildFacts, rebuildRegistry, ReleaseFact, renderRegistry,
} from './registry-rebuild';

/** How many versions of the registry, and of the Caddyfile, are kept. */
export const KEEP = REGISTRY_HISTORY_KEEP;

/** The registry's state on disk. */
export type RegistryStatus = { state: 'ok' } | { state: 'missing' } | { state: 'corrupt'; problem: string };

/** What ensureRegistry did when the registry had to be rebuilt. */
export interface Repaired {
  readonly state: 'missing' | 'corrupt';
  readonly sources: string[];
  readonly notes: string[];
  readonly services: Registry['services'];
  /** Where the corrupt registry was kept, or null when it was missing. */
  readonly aside: string | null;
}

/** What a rebuild needs from the caller: the declared registry (a last resort) and pm2's list. */
export interface EnsureOptions {
  /** @default - none: only the server's own state is used */
  readonly declared?: Registry | null;
  readonly pm2List: () => Promise<readonly Pm2Process[]>;
}

/** Where a store finds things other than its home's files. */
export interface StoreOptions {
  /** The Caddyfile Caddy runs. @default - read from the running caddy's command line */
  readonly runningCaddy?: () => string | null;
}

const stamp = (): string => new Date().toISOString().replace(/[-:]/g, '');

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

function readOr(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Save a copy into a history folder (unless it equals the newest one there) and keep the last KEEP. */
function keepVersion(dir: string, text: string, ext: string): string | null {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = list(dir);
  if (names.length && readOr(path.join(dir, names[names.length - 1])) === text) return null;
  // Sortable by name: the time, then a counter for writes within the same millisecond.
  const t = stamp();
  let name = `${t}-000${ext}`;
  for (let i = 1; names.includes(name); i++) name = `${t}-${String(i).padStart(3, '0')}${ext}`;
  const tmp = path.join(dir, `.${name}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, path.join(dir, name));
  for (const old of list(dir).slice(0, -KEEP)) fs.rmSync(path.join(dir, old), { force: true });
  return path.join(dir, name);
}


/** The inodes of the listening TCP sockets (state 0A) in the network namespace /proc/<pid>/net shows. */
function listeningInodes(pid: string): number[] {
  return ['tcp', 'tcp6'].flatMap((f) => (readOr(`/proc/${pid}/net/${f}`) || '').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/)).filter((cols) => cols[3] === '0A' && Number(cols[9]) > 0).map((cols) => Number(cols[9]));
}

function netnsOf(pid: string): string | null {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null; // another user's process: only root (or the same user) may read its namespace link
  }
}

/** Every running `caddy run --config <file>` on the host, with what tells whose it is (see chooseRunningCaddy). */
export function runningCaddys(uid = process.getuid ? process.getuid() : -1): CaddyProcess[] {
  const found: CaddyProcess[] = [];
  for (const pid of list('/proc').filter((n) => /^\d+$/.test(n))) {
    const argv = (readOr(`/proc/${pid}/cmdline`) || '').split('\0');
    if (path.basename(argv[0] || '') !== 'caddy' || argv[1] !== 'run') continue;
    const i = argv.indexOf('--config');
    if (i < 0 || !argv[i + 1]) continue;
    try {
      const config = fs.realpathSync(argv[i + 1]);
      found.push({ pid: Number(pid), config, netns: netnsOf(pid), listening: listeningInodes(pid), ownedByMe: fs.statSync(path.dirname(config)).uid === uid });
    } catch {
      /* gone, or its config is not reachable: not one we could use */
    }
  }
  return found;
}

/**
 * The Caddyfile this server's Caddy was started with (`caddy run --config <file>`): only a Caddy in the
 * agent's network namespace, or whose Caddyfile's folder the deploy user owns, counts (chooseRunningCaddy).
 */
export function runningCaddyfile(): string | null {
  return chooseRunningCaddy(runningCaddys(), { netns: netnsOf('self'), listening: listeningInodes('self') }, os.userInfo().username);
}

/** ~/services/<name>/current and its manifest's port, for each service folder. */
function releaseFacts(servicesDir: string): ReleaseFact[] {
  return list(servicesDir).map((name) => {
    let release: string | null = null;
    try {
      release = path.basename(fs.readlinkSync(path.join(servicesDir, name, CURRENT_LINK)));
    } catch {
      /* never switched */
    }
    let port: number | null = null;
    try {
      port = JSON.parse(fs.readFileSync(path.join(servicesDir, name, CURRENT_LINK, RELEASE_MANIFEST), 'utf8')).port;
    } catch {
      /* no manifest */
    }
    return { name, release, port };
  });
}

/**
 * The registry files of the deploy user whose home is `home` (a parameter so tests can use a
 * throwaway home; the agent uses its own). `runningCaddy` finds the Caddyfile Caddy runs.
 * Longer than 40 lines only as a closure over the home's paths: each function inside is short.
 */
export function createStore(home: string, { runningCaddy = runningCaddyfile }: StoreOptions = {}) {
  const DIR = path.join(home, PORTSIDE_DIR);
  const REGISTRY = path.join(home, REGISTRY_FILE);
  const HISTORY = path.join(home, REGISTRY_HISTORY_DIR);
  const CADDY_HISTORY = path.join(home, CADDYFILE_HISTORY_DIR);

  /** Write the registry (0600) and keep the version. The first write also keeps the one it replaces. */
  function writeRegistry(text: string): void {
    fs.mkdirSync(DIR, { recursive: true, mode: 0o700 });
    const old = readOr(REGISTRY);
    if (old !== null && list(HISTORY).length === 0) keepVersion(HISTORY, old, '.json');
    writeFileAtomic(REGISTRY, text, 0o600);
    keepVersion(HISTORY, text, '.json');
  }

  /** Keep the Caddyfile a deploy is about to replace; returns where it went. */
  function backupCaddyfile(text: string): string | null {
    return keepVersion(CADDY_HISTORY, text, '.Caddyfile');
  }

  /** The registry's state: 'ok', 'missing', or 'corrupt' with the reason. */
  function registryStatus(): RegistryStatus {
    const text = readOr(REGISTRY);
    if (text === null) return { state: 'missing' };
    const { problem } = parseRegistryText(text);
    return problem ? { state: 'corrupt', problem } : { state: 'ok' };
  }

  /** Everything the rebuild reads: saved versions, the live Caddyfile, release manifests, pm2. */
  async function gatherFacts(declared: Registry | null | undefined, pm2List: EnsureOptions['pm2List']): Promise<RebuildFacts> {
    const history = list(HISTORY).reverse().map((name) => ({ file: `~/${REGISTRY_HISTORY_DIR}/${name}`, text: readOr(path.join(HISTORY, name)) }))
      .filter((h): h is { file: string; text: string } => h.text !== null);
    const savedPath = history.map((h) => parseRegistryText(h.text).registry).find(Boolean);
    // In order, each asked only when the ones before it gave nothing readable: a saved path or PORTSIDE_CADDYFILE
    // spares the running-Caddy choice, which refuses on a host where it cannot tell this server's Caddy.
    const candidates: Array<() => string | null | undefined> = [() => savedPath && savedPath.paths.caddyfile,
      () => (process.env.PORTSIDE_CADDYFILE && readOr(process.env.PORTSIDE_CADDYFILE) !== null ? null : runningCaddy()),
      () => process.env.PORTSIDE_CADDYFILE, () => declared && declared.paths && declared.paths.caddyfile, () => EC2_PATHS.caddyfile];
    let caddyPath: string | null = null;
    for (const candidate of candidates) {
      const p = candidate();
      if (p && readOr(p) !== null) {
        caddyPath = p;
        break;
      }
    }
    const processes = (await pm2List().catch(() => [])).map((p) => ({ name: p.name, status: p.pm2_env?.status, port: pm2Port(p) }));
    return {
      history,
      caddyfile: caddyPath ? { path: caddyPath, text: readOr(caddyPath) ?? '' } : null,
      releases: releaseFacts(path.join(home, SERVICES_DIR)),
      processes,
      declared: declared || null,
    };
  }

  /**
   * Make sure a usable registry exists: when it is missing or corrupt, rebuild it from the server,
   * write it (keeping the corrupt one aside as registry.json.corrupt-<time>) and say so. Call it only
   * while holding the deploy lock. Returns what was done, or null when the registry was fine.
   */
  async function ensureRegistry({ declared, pm2List }: EnsureOptions): Promise<Repaired | null> {
    const status = registryStatus();
    if (status.state === 'ok') return null;
    const facts = await gatherFacts(declared, pm2List);
    const { registry, sources, notes } = rebuildRegistry(facts);
    let aside: string | null = null;
    if (status.state === 'corrupt') {
      aside = `${REGISTRY}.corrupt-${stamp()}`;
      fs.renameSync(REGISTRY, aside);
    }
    writeRegistry(renderRegistry(registry));
    const services = Object.entries(registry.services).map(([n, p]) => `${n} ${p}`).join(', ') || 'none';
    const what = status.state === 'missing' ? 'was missing' : `was corrupt (${status.problem}; kept as ${(aside as string).replace(home, '~')})`;
    note(`the registry (~/${REGISTRY_FILE}) ${what}: rebuilt from ${sources.join(' and ')}; services: ${services}`);
    for (const n of notes) note(`  ${n}`);
    return { state: status.state, sources, notes, services: registry.services, aside };
  }

  return { REGISTRY, HISTORY, CADDY_HISTORY, KEEP, writeRegistry, backupCaddyfile, registryStatus, ensureRegistry, gatherFacts };
}

/** The deploy user's own registry files (the agent runs as that user). */
export const { REGISTRY, HISTORY, CADDY_HISTORY, writeRegistry, backupCaddyfile, registryStatus, ensureRegistry, gatherFacts } = createStore(os.homedir());
