import { renderCaddyfile } from '../../caddy';
import { REGISTRY_HISTORY_DIR, REGISTRY_PATH } from '../../registry';
import { PM2_FILE, serviceDir } from '../../remote/layout';
import { CheckResult, DoctorFacts, Pm2Process, ServiceFolder, failed } from '../types';
import type { CheckFamily } from './family';
import { byCodeUnits } from '../../registry/name-order';

/**
 * The registry is the source of truth; the Caddyfile is rendered from it and pm2 runs what it lists.
 * Each disagreement is named (the declared configuration is the `declared` family's).
 */
export function driftChecks(f: DoctorFacts): CheckResult[] {
  if (failed(f.registry)) {
    return [{ id: 'drift.registry', status: 'fail', message: `the registry (~/${REGISTRY_PATH}) cannot be used: ${f.registry.error}`, fix: registryFix(f) }];
  }
  const reg = f.registry;
  const out = caddyfileDrift(reg, f.caddyfile);
  if (failed(f.pm2)) {
    out.push({ id: 'drift.pm2', status: 'fail', message: `could not read pm2's process list: ${f.pm2.error}`, fix: 'check that pm2 is installed and its daemon runs as the deploy user (pm2 ls)' });
    return out;
  }
  const pm2 = f.pm2;
  for (const [name, port] of Object.entries(reg.services).sort(([a], [b]) => byCodeUnits(a, b))) {
    const proc = pm2.find((p) => p.name === name);
    out.push(...(proc ? processDrift(name, port, proc) : [missingProcess(name, port, f.folders.find((d) => d.name === name))]));
  }
  for (const p of pm2.filter((x) => reg.services[x.name] === undefined)) {
    out.push({
      id: `drift.unrouted.${p.name}`, status: 'warn', message: `pm2 runs "${p.name}" (${p.status}${p.port ? `, port ${p.port}` : ''}), which the registry does not route to`,
      fix: `deploy it so it gets a route (portside deploy-service ${p.name}), or stop it on the server: pm2 delete ${p.name} && pm2 save`,
    });
  }
  for (const d of f.folders.filter((x) => reg.services[x.name] === undefined && !pm2.some((p) => p.name === x.name))) {
    out.push({ id: `drift.leftover.${d.name}`, status: 'info', message: `~/${serviceDir(d.name)} is kept from a removed service (release ${d.release ?? 'none'})` });
  }
  return out;
}

/** A registered service pm2 does not run: never deployed (a warning), or lost its process (a failure). */
function missingProcess(name: string, port: number, folder: ServiceFolder | undefined): CheckResult {
  if (!folder?.release) {
    return {
      id: `drift.undeployed.${name}`, status: 'warn', message: `service "${name}" is registered on port ${port} but was never deployed: its URL answers 502`,
      fix: `deploy it (portside deploy-service ${name} ${port}) or drop its route (portside remove-service ${name})`,
    };
  }
  return {
    id: `drift.process.${name}`, status: 'fail', message: `service "${name}" has release ${folder.release} and a route, but pm2 runs no process for it`,
    fix: `start it again on the server: pm2 start ~/${serviceDir(name)}/${PM2_FILE} && pm2 save (or portside deploy-service ${name} --force)`,
  };
}

/** A registered service's pm2 process: online, on its registered port, with Portside's preload. */
function processDrift(name: string, port: number, proc: Pm2Process): CheckResult[] {
  const out: CheckResult[] = [proc.status === 'online'
    ? { id: `drift.online.${name}`, status: 'pass', message: `service "${name}" is online under pm2 (pid ${proc.pid})` }
    : {
      id: `drift.stopped.${name}`, status: 'fail', message: `service "${name}" is ${proc.status} under pm2: its URL answers 502`,
      fix: `start it again on the server: pm2 restart ${name} && pm2 save (or portside deploy-service ${name} --force)`,
    }];
  if (proc.port !== port) {
    out.push({
      id: `drift.port.${name}`, status: 'fail', message: `service "${name}" is registered on port ${port}, but pm2 runs it on ${proc.port ?? 'no port'}: Caddy proxies to the wrong place`,
      fix: `redeploy it on its registered port: portside deploy-service ${name} ${port} --force`,
    });
  }
  if (!proc.preload) {
    out.push({
      id: `drift.preload.${name}`, status: 'fail', message: `service "${name}" runs without Portside's preload: nothing keeps it on 127.0.0.1, drains it on reload or loads its env file`,
      fix: `redeploy it (pm2 then starts it with the preload): portside deploy-service ${name} --force`,
    });
  }
  return out;
}

/**
 * How to get a usable registry back: the newest saved version when there is one, and always the
 * rebuild every Portside command does by itself (from the release manifests, pm2 and the live Caddyfile).
 */
function registryFix(f: DoctorFacts): string {
  const rebuild = 'run `portside services` (or any deploy): it rebuilds the registry from the server itself (release manifests, pm2, the live Caddyfile) and says what it found';
  const newest = f.registryHistory?.[0];
  if (!newest) return `no saved version exists on the server (~/${REGISTRY_HISTORY_DIR}/ is empty); ${rebuild}`;
  const missing = f.registryText === null;
  return `${rebuild}; or restore the newest saved version: ${missing ? '' : `mv ~/${REGISTRY_PATH} ~/${REGISTRY_PATH}.bad && `}cp ~/${REGISTRY_HISTORY_DIR}/${newest} ~/${REGISTRY_PATH} && chmod 600 ~/${REGISTRY_PATH}`;
}

/** The Caddyfile on disk must be exactly what the registry renders to. */
function caddyfileDrift(reg: Parameters<typeof renderCaddyfile>[0], actual: string | null): CheckResult[] {
  const fix = 'the next deploy or remove-service renders it from the registry again: hand edits are not kept inside a block Portside renders '
    + '(a site added by hand in a block of its own is kept, as the registry\'s "extra"); change routes with portside deploy-service / remove-service';
  if (actual === null) return [{ id: 'drift.caddyfile', status: 'fail', message: 'the Caddyfile named in the registry does not exist', fix }];
  let expected: string;
  try {
    expected = renderCaddyfile(reg);
  } catch (e) {
    return [{ id: 'drift.caddyfile', status: 'fail', message: `the registry cannot be rendered: ${(e as Error).message}`, fix: 'fix the registry by hand' }];
  }
  if (expected === actual) return [{ id: 'drift.caddyfile', status: 'pass', message: 'the Caddyfile is exactly what the registry renders to' }];
  const a = expected.split('\n');
  const b = actual.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const show = (s: string | undefined) => (s === undefined ? 'the end of the file' : JSON.stringify(s));
  return [{
    id: 'drift.caddyfile', status: 'fail',
    message: `the Caddyfile differs from what the registry renders, first at line ${i + 1}: expected ${show(a[i])}, found ${show(b[i])}`,
    fix,
  }];
}

export const driftFamily: CheckFamily = {
  name: 'drift', idPrefix: 'drift.', run: driftChecks,
  looksAt: 'the registry against the server: the Caddyfile it renders to, and the pm2 processes and folders of its services',
};
