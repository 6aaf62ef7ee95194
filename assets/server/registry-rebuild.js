'use strict';
// Rebuild a lost or corrupt registry from what the server itself shows. Pure: the agent
// (registry-store.js) gathers the facts; this decides. Never from defaults that drop running
// services: the declared configuration is used only when the server has neither a saved registry
// nor a Caddyfile, and even then every service that runs is kept.
const { splitBlocks } = require('../../lib/agent/caddyfile-blocks');

const NAME = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
const validPort = (p) => Number.isInteger(p) && p >= 1024 && p <= 65535;

/**
 * The registry's own shape check (the CLI's parseRegistry is stricter): enough to tell a usable
 * registry from a corrupt one. Returns the problem, or null.
 * @param {unknown} r
 * @returns {string | null}
 */
function registryProblem(r) {
  if (!r || typeof r !== 'object' || Array.isArray(r)) return 'it is not a JSON object';
  if (r.version !== 1) return `version is ${JSON.stringify(r.version)}, expected 1`;
  if (r.routing !== 'path' && r.routing !== 'subdomain') return `routing is ${JSON.stringify(r.routing)}`;
  if (r.tls !== 'acme' && r.tls !== 'internal') return `tls is ${JSON.stringify(r.tls)}`;
  if (!r.paths || typeof r.paths.www !== 'string' || typeof r.paths.caddyfile !== 'string') return 'paths.www and paths.caddyfile are missing';
  if (!r.services || typeof r.services !== 'object' || Array.isArray(r.services)) return 'services is missing';
  for (const [name, port] of Object.entries(r.services)) if (!validPort(port)) return `services.${name} is ${JSON.stringify(port)}, not a port`;
  if (r.extra !== undefined && typeof r.extra !== 'string') return 'extra is not text';
  return null;
}

/** Parse registry text; the registry object, or null with the reason. */
function parseRegistryText(text) {
  let r;
  try {
    r = JSON.parse(text);
  } catch (e) {
    return { registry: null, problem: `not valid JSON (${e.message})` };
  }
  const problem = registryProblem(r);
  return problem ? { registry: null, problem } : { registry: r, problem: null };
}

/** The same bytes as the CLI's renderRegistry (lib/registry/registry.ts): stable key order, sorted services. */
function renderRegistry(r) {
  const services = Object.fromEntries(Object.entries(r.services).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify({
    version: 1,
    ...(r.domain ? { domain: r.domain } : {}),
    ...(r.email ? { email: r.email } : {}),
    routing: r.routing,
    tls: r.tls,
    services,
    paths: { www: r.paths.www, caddyfile: r.paths.caddyfile },
    ...(r.extra ? { extra: r.extra } : {}),
  }, null, 2) + '\n';
}

/**
 * What a Caddyfile rendered by Portside says about the registry it was rendered from: the domain,
 * routing, TLS mode, e-mail, static site folder, each service's port, and the blocks Portside did
 * not write (kept as `extra`). Null when it has no Portside static site (not Portside's file).
 * @param {string} text
 */
function readCaddyfile(text) {
  const blocks = splitBlocks(text);
  const global = blocks.find((b) => b.key === '');
  const site = blocks.find((b) => /^\s*root \* "?(.+?)\/current"?\s*$/m.test(b.text) && b.key !== '' && !b.key.startsWith('('));
  if (!site) return null;
  const www = /^\s*root \* "?(.+?)\/current"?\s*$/m.exec(site.text)[1].replace(/\\(["\\])/g, '$1');
  const domain = site.key === ':80' ? undefined : site.key;
  const tls = global && /^\s*local_certs\s*$/m.test(global.text) ? 'internal' : 'acme';
  const emailMatch = global && /^\s*email\s+(\S+)\s*$/m.exec(global.text);
  const services = {};
  const ours = new Set(['', '(portside_headers)', site.key]);
  let routing = null;
  for (const m of site.text.matchAll(/handle_path \/([a-z0-9-]+)\/\* \{\s*reverse_proxy 127\.0\.0\.1:(\d+)/g)) {
    services[m[1]] = Number(m[2]);
    routing = 'path';
  }
  if (domain) {
    for (const b of blocks) {
      if (!b.key.endsWith(`.${domain}`) || b.key.includes(' ')) continue;
      const name = b.key.slice(0, -(domain.length + 1));
      const proxy = /^\s*reverse_proxy 127\.0\.0\.1:(\d+)/m.exec(b.text);
      if (!NAME.test(name) || !proxy) continue;
      services[name] = Number(proxy[1]);
      ours.add(b.key);
      routing = 'subdomain';
    }
  }
  const foreign = blocks.filter((b) => !ours.has(b.key)).map((b) => b.text);
  return {
    domain, email: emailMatch ? emailMatch[1] : undefined, tls, www, services,
    // No service routed: both routings render the same file. Without a domain only path routing exists.
    routing: routing || (domain ? null : 'path'),
    extra: foreign.length ? foreign.join('\n\n') : undefined,
  };
}

/**
 * Rebuild the registry from the server's own state.
 * @param {object} facts
 * @param {{ file: string, text: string }[]} facts.history  saved registry versions, newest first
 * @param {{ path: string, text: string } | null} facts.caddyfile  the live Caddyfile
 * @param {{ name: string, release: string | null, port: number | null }[]} facts.releases  ~/services/<name>/current and its manifest's port
 * @param {{ name: string, status: string, port: number | null }[]} facts.processes  pm2's list
 * @param {object | null} [facts.declared]  the declared registry (cdk.json): a last resort for the domain and paths
 * @returns {{ registry: object, sources: string[], notes: string[] }}
 */
function rebuildRegistry(facts) {
  const notes = [];
  const sources = [];
  const saved = facts.history.map((h) => ({ file: h.file, ...parseRegistryText(h.text) })).find((h) => h.registry);
  const live = facts.caddyfile ? readCaddyfile(facts.caddyfile.text) : null;
  if (facts.caddyfile && !live) notes.push(`${facts.caddyfile.path} has no site Portside rendered (no "root * …/current"): not used`);

  let base;
  if (saved) {
    base = { ...saved.registry };
    sources.push(`the saved version ${saved.file}`);
  } else if (live) {
    base = {
      version: 1, domain: live.domain, email: live.email, tls: live.tls, services: {}, extra: live.extra,
      routing: live.routing || (facts.declared && facts.declared.routing) || 'subdomain',
      paths: { www: live.www, caddyfile: facts.caddyfile.path },
    };
    sources.push(`the live Caddyfile ${facts.caddyfile.path}`);
    if (!live.routing) notes.push(`no service is routed in the Caddyfile, so its routing could not be read: ${base.routing} assumed`);
  } else if (facts.declared) {
    // Its services are not evidence of what runs here: they are added last, only where nothing clashes.
    base = { ...facts.declared, services: {} };
    sources.push('the declared configuration (no saved version and no Caddyfile on the server)');
  } else {
    throw new Error('the registry cannot be rebuilt: the server has no saved version of it, no Caddyfile Portside rendered, and no declared configuration was given');
  }

  // Every source of evidence for a service's port, strongest first: what runs, what is routed,
  // what was deployed, what was saved.
  const procs = new Map(facts.processes.filter((p) => p.name).map((p) => [p.name, p]));
  const rels = new Map(facts.releases.filter((r) => r.release).map((r) => [r.name, r]));
  const routed = live ? live.services : {};
  const names = new Set([...Object.keys(base.services), ...Object.keys(routed)]);
  for (const [name] of rels) {
    if (procs.has(name)) names.add(name);
    else if (!names.has(name)) notes.push(`~/services/${name} has a release but no process and no route (a removed service): left unrouted`);
  }
  if (facts.releases.length || facts.processes.length) sources.push('the release manifests in ~/services and pm2\'s process list');
  const services = {};
  for (const name of [...names].sort()) {
    if (!NAME.test(name)) {
      notes.push(`"${name}" is not a valid service name: left out`);
      continue;
    }
    const p = procs.get(name);
    const seen = [
      ['pm2', p && validPort(p.port) ? p.port : null],
      ['the Caddyfile', validPort(routed[name]) ? routed[name] : null],
      ['its release manifest', rels.get(name) && validPort(rels.get(name).port) ? rels.get(name).port : null],
      ['the saved registry', validPort(base.services[name]) ? base.services[name] : null],
    ].filter(([, port]) => port !== null);
    if (!seen.length) continue;
    const [from, port] = seen[0];
    const other = seen.find(([, q]) => q !== port);
    if (other) notes.push(`"${name}": ${from} says port ${port}, ${other[0]} says ${other[1]}; ${port} kept (${from} wins)`);
    services[name] = port;
  }
  dropPortClashes(services, procs, notes);

  if (facts.declared && !saved && !live) {
    const used = new Set(Object.values(services));
    for (const [name, port] of Object.entries(facts.declared.services || {})) {
      if (services[name] !== undefined) continue;
      if (used.has(port)) notes.push(`declared service "${name}" on port ${port} not added: the port is taken by a running service`);
      else {
        services[name] = port;
        used.add(port);
      }
    }
  }
  const registry = { ...base, services };
  if (!registry.domain) delete registry.domain;
  if (!registry.email) delete registry.email;
  if (!registry.extra) delete registry.extra;
  const problem = registryProblem(registry);
  if (problem) throw new Error(`the registry rebuilt from ${sources.join(', ')} is unusable (${problem})`);
  return { registry, sources, notes };
}

/** Two services on one port: the one pm2 runs online there keeps it; the other is left out, loudly. */
function dropPortClashes(services, procs, notes) {
  const byPort = new Map();
  for (const [name, port] of Object.entries(services)) byPort.set(port, [...(byPort.get(port) || []), name]);
  for (const [port, names] of byPort) {
    if (names.length < 2) continue;
    const online = names.find((n) => procs.get(n) && procs.get(n).status === 'online' && procs.get(n).port === port) || names[0];
    for (const n of names.filter((x) => x !== online)) {
      delete services[n];
      notes.push(`"${n}" and "${online}" both claim port ${port}: "${online}" kept, "${n}" left unrouted (redeploy it to give it a port)`);
    }
  }
}

module.exports = { rebuildRegistry, readCaddyfile, registryProblem, parseRegistryText, renderRegistry };
