// The registry and the Caddyfile change together or not at all. The CLI renders both (one renderer,
// in TypeScript); here they are validated by Caddy, swapped in atomically, and Caddy is reloaded
// gracefully through its admin API. A refused reload puts both files back; Caddy keeps its old config.
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { writeFileAtomic } from '../fs/write-atomic';
import { CADDYFILE_CANDIDATE_PREFIX, HTTP_PORT, HTTPS_PORT } from '../remote/layout';
import { AgentError } from './protocol-io';
import * as store from './registry-store';
import { run, RunResult, tail } from './run';
import { unverifiedTls, VERIFY_HEADER } from './verify-request';

/** The deploy user's registry file. */
export const REGISTRY = store.REGISTRY;

/** What Caddy answered for a URL: a status, or the error that stopped the request. */
export interface CaddyAnswer {
  readonly status?: number;
  readonly error?: string;
}

/** The registry file's text as it is now. */
export function readRegistryText(): string {
  return fs.readFileSync(REGISTRY, 'utf8');
}

const failureText = (e: unknown): string => {
  const f = e as { stderr?: string; message?: string };
  return tail(f.stderr || f.message, 8);
};

/** Apply new routes; returns an undo function that restores the previous files and config. */
export async function applyRoutes(registryText: string, caddyfileText: string): Promise<() => Promise<void>> {
  const oldRegistry = readRegistryText();
  const caddyfile: string = JSON.parse(oldRegistry).paths.caddyfile;
  const oldCaddyfile = fs.readFileSync(caddyfile, 'utf8');
  await swapInValidated(caddyfile, caddyfileText, oldCaddyfile);
  const undo = async (): Promise<void> => {
    writeFileAtomic(caddyfile, oldCaddyfile);
    store.writeRegistry(oldRegistry);
    await reload(caddyfile).catch(() => {});
  };
  try {
    await reload(caddyfile);
  } catch (e) {
    writeFileAtomic(caddyfile, oldCaddyfile);
    throw new AgentError('Caddy refused to load the new configuration and kept the old one; the registry and Caddyfile were put back', failureText(e), 'CADDY_RELOAD');
  }
  store.writeRegistry(registryText);
  return undo;
}

/** Validate the new Caddyfile beside the live one, keep the one it replaces, then rename it into place. */
async function swapInValidated(caddyfile: string, text: string, old: string): Promise<void> {
  const candidate = path.join(path.dirname(caddyfile), `${CADDYFILE_CANDIDATE_PREFIX}${process.pid}`);
  fs.writeFileSync(candidate, text);
  try {
    await run('caddy', ['validate', '--adapter', 'caddyfile', '--config', candidate]).catch((e: unknown) => {
      throw new AgentError('Caddy refused the new configuration; nothing was changed', failureText(e), 'CADDY_INVALID');
    });
    // The Caddyfile being replaced is kept (the last few), whoever wrote it.
    store.backupCaddyfile(old);
    fs.renameSync(candidate, caddyfile);
  } finally {
    fs.rmSync(candidate, { force: true });
  }
}

/** A graceful reload (never a restart): Caddy swaps configs and rolls back by itself if the new one fails. */
function reload(caddyfile: string): Promise<RunResult> {
  return run('caddy', ['reload', '--adapter', 'caddyfile', '--config', caddyfile]);
}

/**
 * Ask Caddy for a URL from inside the server (DNS for the domain may not exist yet). A TLS failure
 * is reported, not fatal: a fresh domain may still be waiting for its certificate.
 */
export function viaCaddy(url: string): Promise<CaddyAnswer> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const get = secure ? https.get : http.get;
  return new Promise((resolve) => {
    const req = get({
      host: '127.0.0.1', port: u.port || (secure ? HTTPS_PORT : HTTP_PORT), path: u.pathname + u.search,
      servername: u.hostname, headers: { host: u.host, 'user-agent': 'portside-verify', [VERIFY_HEADER]: '1' }, ...unverifiedTls(), timeout: 8000,
    }, (res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code || e.message }));
  });
}
