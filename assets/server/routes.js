'use strict';
// The registry and the Caddyfile change together or not at all. The CLI renders both (one renderer,
// in TypeScript); here they are validated by Caddy, swapped in atomically, and Caddy is reloaded
// gracefully through its admin API. A refused reload puts both files back; Caddy keeps its old config.
const fs = require('fs');
const path = require('path');
const https = require('https');
const http = require('http');
const { run, tail } = require('./run');
const { AgentError } = require('./protocol');
const { writeAtomic } = require('./releases');
const store = require('./registry-store');

const REGISTRY = store.REGISTRY;

function readRegistryText() {
  return fs.readFileSync(REGISTRY, 'utf8');
}

/** Apply new routes; returns an undo function that restores the previous files and config. */
async function applyRoutes(registryText, caddyfileText) {
  const reg = JSON.parse(readRegistryText());
  const caddyfile = reg.paths.caddyfile;
  const oldRegistry = readRegistryText();
  const oldCaddyfile = fs.readFileSync(caddyfile, 'utf8');
  const candidate = path.join(path.dirname(caddyfile), `.Caddyfile.new-${process.pid}`);
  fs.writeFileSync(candidate, caddyfileText);
  try {
    await run('caddy', ['validate', '--adapter', 'caddyfile', '--config', candidate]).catch((e) => {
      throw new AgentError('Caddy refused the new configuration; nothing was changed', tail(e.stderr || e.message, 8), 'CADDY_INVALID');
    });
    // The Caddyfile being replaced is kept (the last few), whoever wrote it.
    store.backupCaddyfile(oldCaddyfile);
    fs.renameSync(candidate, caddyfile);
  } finally {
    fs.rmSync(candidate, { force: true });
  }
  const undo = async () => {
    writeAtomic(caddyfile, oldCaddyfile);
    store.writeRegistry(oldRegistry);
    await reload(caddyfile).catch(() => {});
  };
  try {
    await reload(caddyfile);
  } catch (e) {
    writeAtomic(caddyfile, oldCaddyfile);
    throw new AgentError('Caddy refused to load the new configuration and kept the old one; the registry and Caddyfile were put back', tail(e.stderr || e.message, 8), 'CADDY_RELOAD');
  }
  store.writeRegistry(registryText);
  return undo;
}

/** A graceful reload (never a restart): Caddy swaps configs and rolls back by itself if the new one fails. */
function reload(caddyfile) {
  return run('caddy', ['reload', '--adapter', 'caddyfile', '--config', caddyfile]);
}

/**
 * Ask Caddy for a URL from inside the server (DNS for the domain may not exist yet). A TLS failure
 * is reported, not fatal: a fresh domain may still be waiting for its certificate.
 */
function viaCaddy(url) {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = lib.get({
      host: '127.0.0.1', port: u.port || (u.protocol === 'https:' ? 443 : 80), path: u.pathname + u.search,
      servername: u.hostname, headers: { host: u.host, 'user-agent': 'portside-verify' }, rejectUnauthorized: false, timeout: 8000,
    }, (res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => resolve({ error: e.code || e.message }));
  });
}

module.exports = { applyRoutes, readRegistryText, viaCaddy, REGISTRY };
