'use strict';
// The registry on disk, kept with its history: every write also saves the new version under
// ~/.portside/registry.history/ (the last KEEP; the newest is the current one), and every Caddyfile a
// deploy replaces is saved under ~/.portside/caddyfile.history/. A missing or corrupt registry is
// rebuilt from the server itself (registry-rebuild.js decides), said loudly, the corrupt file kept.
const fs = require('fs');
const path = require('path');
const os = require('os');
const { note } = require('./protocol');
const { rebuildRegistry, parseRegistryText, renderRegistry } = require('../../lib/agent/registry-rebuild');

/** How many versions of the registry, and of the Caddyfile, are kept. */
const KEEP = 10;
/** Where a server bootstrapped on EC2 keeps its Caddyfile (lib/registry/from-config.ts EC2_PATHS). */
const EC2_CADDYFILE = '/etc/portside/Caddyfile';

const stamp = () => new Date().toISOString().replace(/[-:]/g, '');

function list(dir) {
  try {
    return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

function readOr(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Save a copy into a history folder (unless it equals the newest one there) and keep the last KEEP. */
function keepVersion(dir, text, ext) {
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

function writeAtomic(file, text, mode) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** The Caddyfile Caddy was started with, from its command line (`caddy run --config <file>`). */
function runningCaddyfile() {
  for (const pid of list('/proc').filter((n) => /^\d+$/.test(n))) {
    const argv = (readOr(`/proc/${pid}/cmdline`) || '').split('\0');
    if (path.basename(argv[0] || '') !== 'caddy' || argv[1] !== 'run') continue;
    const i = argv.indexOf('--config');
    if (i > 0 && argv[i + 1]) {
      try {
        return fs.realpathSync(argv[i + 1]);
      } catch {
        /* gone: try the next */
      }
    }
  }
  return null;
}

/**
 * The registry files of the deploy user whose home is `home` (a parameter so tests can use a
 * throwaway home; the agent uses its own). `runningCaddy` finds the Caddyfile Caddy runs.
 */
function createStore(home, { runningCaddy = runningCaddyfile } = {}) {
  const DIR = path.join(home, '.portside');
  const REGISTRY = path.join(DIR, 'registry.json');
  const HISTORY = path.join(DIR, 'registry.history');
  const CADDY_HISTORY = path.join(DIR, 'caddyfile.history');

  /** Write the registry (0600) and keep the version. The first write also keeps the one it replaces. */
  function writeRegistry(text) {
    fs.mkdirSync(DIR, { recursive: true, mode: 0o700 });
    const old = readOr(REGISTRY);
    if (old !== null && list(HISTORY).length === 0) keepVersion(HISTORY, old, '.json');
    writeAtomic(REGISTRY, text, 0o600);
    keepVersion(HISTORY, text, '.json');
  }

  /** Keep the Caddyfile a deploy is about to replace; returns where it went. */
  function backupCaddyfile(text) {
    return keepVersion(CADDY_HISTORY, text, '.Caddyfile');
  }

  /** The registry's state: 'ok', 'missing', or 'corrupt' with the reason. */
  function registryStatus() {
    const text = readOr(REGISTRY);
    if (text === null) return { state: 'missing' };
    const { problem } = parseRegistryText(text);
    return problem ? { state: 'corrupt', problem } : { state: 'ok' };
  }

  /** Everything the rebuild reads: saved versions, the live Caddyfile, release manifests, pm2. */
  async function gatherFacts(declared, pm2List) {
    const history = list(HISTORY).reverse().map((name) => ({ file: `~/.portside/registry.history/${name}`, text: readOr(path.join(HISTORY, name)) }))
      .filter((h) => h.text !== null);
    const savedPath = history.map((h) => parseRegistryText(h.text).registry).find(Boolean);
    const candidates = [savedPath && savedPath.paths.caddyfile, runningCaddy(), process.env.PORTSIDE_CADDYFILE,
      declared && declared.paths && declared.paths.caddyfile, EC2_CADDYFILE].filter(Boolean);
    const caddyPath = candidates.find((p) => readOr(p) !== null) || null;
    const servicesDir = path.join(home, 'services');
    const releases = list(servicesDir).map((name) => {
      let release = null;
      try {
        release = path.basename(fs.readlinkSync(path.join(servicesDir, name, 'current')));
      } catch {
        /* never switched */
      }
      let port = null;
      try {
        port = JSON.parse(fs.readFileSync(path.join(servicesDir, name, 'current', '.portside-release.json'), 'utf8')).port;
      } catch {
        /* no manifest */
      }
      return { name, release, port };
    });
    const processes = (await pm2List().catch(() => [])).map((p) => {
      const env = p.pm2_env || {};
      return { name: p.name, status: env.status, port: Number((env.env && env.env.PORT) || env.PORT) || null };
    });
    return { history, caddyfile: caddyPath ? { path: caddyPath, text: readOr(caddyPath) } : null, releases, processes, declared: declared || null };
  }

  /**
   * Make sure a usable registry exists: when it is missing or corrupt, rebuild it from the server,
   * write it (keeping the corrupt one aside as registry.json.corrupt-<time>) and say so. Call it only
   * while holding the deploy lock. Returns what was done, or null when the registry was fine.
   */
  async function ensureRegistry({ declared, pm2List }) {
    const status = registryStatus();
    if (status.state === 'ok') return null;
    const facts = await gatherFacts(declared, pm2List);
    const { registry, sources, notes } = rebuildRegistry(facts);
    let aside = null;
    if (status.state === 'corrupt') {
      aside = `${REGISTRY}.corrupt-${stamp()}`;
      fs.renameSync(REGISTRY, aside);
    }
    writeRegistry(renderRegistry(registry));
    const services = Object.entries(registry.services).map(([n, p]) => `${n} ${p}`).join(', ') || 'none';
    const what = status.state === 'missing' ? 'was missing' : `was corrupt (${status.problem}; kept as ${aside.replace(home, '~')})`;
    note(`the registry (~/.portside/registry.json) ${what}: rebuilt from ${sources.join(' and ')}; services: ${services}`);
    for (const n of notes) note(`  ${n}`);
    return { state: status.state, sources, notes, services: registry.services, aside };
  }

  return { REGISTRY, HISTORY, CADDY_HISTORY, KEEP, writeRegistry, backupCaddyfile, registryStatus, ensureRegistry, gatherFacts };
}

module.exports = { ...createStore(os.homedir()), createStore };
