import type { DeployOutcome } from './deploy-service';
import { formatBytes } from './deploy-service';

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)}s`;

/** What the front-end build did, in words. */
function buildPhrase(o: Pick<DeployOutcome, 'build' | 'timings'>, withTime: boolean): string {
  if (o.build === 'built') return withTime ? `built the front end (${secs(o.timings.build ?? 0)})` : 'built the front end';
  if (o.build === 'skipped') return 'front-end build skipped (its inputs are unchanged)';
  return 'nothing to build';
}

/**
 * The last lines of a deploy: what actually happened — built or not, files sent, the service started
 * or left running, routes changed or not — never a stock phrase. Pure, so each case is tested as text.
 */
export function deploySummary(o: DeployOutcome): string {
  const total = secs(o.timings.total ?? 0);
  if (o.unchanged) {
    return `${o.name} is up to date on port ${o.port}: ${buildPhrase(o, true)}; the same files were already live, so nothing was sent or restarted (${total}). ${o.url}`;
  }
  const sent = o.filesSent ? `sent ${o.filesSent} file${o.filesSent === 1 ? '' : 's'} (${formatBytes(o.bytesSent)})` : 'sent nothing (the files were already on the server)';
  const started = o.previous ? `restarted on release ${o.release} (was ${o.previous})` : `started release ${o.release} (no release was running)`;
  const routes = o.routesChanged ? 'routes changed (Caddy reloaded)' : 'routes unchanged';
  const steps = Object.entries(o.timings).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${secs(v)}`).join(', ');
  return `deployed ${o.name} (release ${o.release}) on port ${o.port}: ${o.url}\n`
    + `  ${buildPhrase(o, false)}; ${sent}; ${started}; ${routes}\n`
    + `  ${steps ? `${steps}; ` : ''}total ${total}`;
}
