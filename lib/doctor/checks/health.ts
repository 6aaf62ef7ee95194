import { serviceUrl, siteUrl } from '../../caddy';
import { describeHealth, healthKind } from '../../health/describe-health';
import { CheckResult, DoctorFacts, HttpOutcome, failed } from '../types';
import type { CheckFamily } from './family';
import { behindLoadBalancer } from './fleet-mode';
import { byCodeUnits } from '../../registry/name-order';

const ok = (r: HttpOutcome | undefined): r is number => typeof r === 'number' && r < 500;
const show = (r: HttpOutcome | undefined) => (r === undefined ? 'not checked' : typeof r === 'number' ? `HTTP ${r}` : r);

/** Site key in `viaCaddy` for the static site at the root. */
export const SITE_KEY = '@site';

/** Every deployed service answers on 127.0.0.1:<port> inside the server, and through Caddy at its URL. */
export function healthChecks(f: DoctorFacts): CheckResult[] {
  if (failed(f.registry)) return [];
  const reg = f.registry;
  // A fleet server's Caddy serves the same names over plain HTTP (the probe asks them so): show what was asked.
  const asked = (url: string) => (behindLoadBalancer(f) ? url.replace(/^https:/, 'http:') : url);
  const out: CheckResult[] = [];
  const running = failed(f.pm2) ? [] : f.pm2;
  for (const [name, port] of Object.entries(reg.services).sort(([a], [b]) => byCodeUnits(a, b))) {
    const folder = f.folders.find((d) => d.name === name);
    if (!folder?.release && !running.some((p) => p.name === name)) {
      out.push({ id: `health.${name}`, status: 'skip', message: `service "${name}" is not deployed: no health to check` });
      continue;
    }
    const path = folder?.healthPath ?? '/';
    const direct = f.direct[name];
    out.push(directHealth(name, port, path, direct), caddyHealth(asked(serviceUrl(reg, name, f.address)), name, path, direct, f.viaCaddy[name]));
  }
  const site = f.viaCaddy[SITE_KEY];
  const url = asked(siteUrl(reg, f.address));
  out.push(ok(site)
    ? { id: 'health.site', status: 'pass', message: `${url} answers through Caddy (HTTP ${site})` }
    : { id: 'health.site', status: 'fail', message: `${url} does not answer through Caddy (${show(site)})`, fix: 'read Caddy\'s log; redeploy the site with portside deploy-files <folder>' });
  return out;
}

const pathFix = (name: string, path: string) =>
  `if ${path} is not a page of this service, give it one that answers 200: portside deploy-service ${name} --health-path /health`;

/** GET <health path> on 127.0.0.1:<port> inside the server: the service itself, without Caddy. */
function directHealth(name: string, port: number, path: string, direct: HttpOutcome | undefined): CheckResult {
  const kind = healthKind(direct);
  if (kind === 'ok') return { id: `health.direct.${name}`, status: 'pass', message: `service "${name}" answers GET ${path} on 127.0.0.1:${port} inside the server (HTTP ${direct})` };
  if (kind === 'client-error') {
    return { id: `health.direct.${name}`, status: 'warn', message: `service "${name}" runs but ${describeHealth(direct, path)} on 127.0.0.1:${port}: not a healthy answer`, fix: pathFix(name, path) };
  }
  return { id: `health.direct.${name}`, status: 'fail', message: `service "${name}" does not answer GET ${path} on 127.0.0.1:${port} inside the server (${show(direct)})`,
    fix: `read its logs: portside logs ${name}; then redeploy (portside deploy-service ${name} --force) or roll back (portside rollback ${name})` };
}

/** GET the service's URL through Caddy; the fix depends on whether the service answered directly. */
function caddyHealth(url: string, name: string, path: string, direct: HttpOutcome | undefined, via: HttpOutcome | undefined): CheckResult {
  const kind = healthKind(via);
  if (kind === 'ok') return { id: `health.caddy.${name}`, status: 'pass', message: `${url} answers through Caddy (HTTP ${via})` };
  if (kind === 'client-error') {
    return { id: `health.caddy.${name}`, status: 'warn', message: `${url} ${describeHealth(via, new URL(url).pathname)} through Caddy: the service runs, but that is not a healthy answer`,
      fix: ok(direct) && healthKind(direct) === 'ok' ? 'the service answers directly but not through its route: compare the Caddyfile with the registry (see the drift checks)' : pathFix(name, path) };
  }
  return { id: `health.caddy.${name}`, status: 'fail', message: `${url} does not answer through Caddy (${show(via)})`,
    fix: ok(direct) ? 'the service is fine but the route is not: compare the Caddyfile with the registry (see the drift checks) and read Caddy\'s log'
      : `fix the service first (portside logs ${name})` };
}

export const healthFamily: CheckFamily = {
  name: 'health', idPrefix: 'health.', run: healthChecks,
  looksAt: 'each deployed service answers its health path on loopback and its URL through Caddy; the site answers at the root',
};
