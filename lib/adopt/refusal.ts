import { ServerFacts, unread } from './facts';
import { Refusal } from './plan-types';

/**
 * Whether adopt can understand this server at all (pure): a running Caddy with a configuration that
 * adapts, and pm2 with the Node it runs on. The first thing missing is the refusal; null when none is.
 */
export function refusalOf(f: ServerFacts): Refusal | null {
  const c = f.caddy;
  if (!c.binary && c.processes.length === 0) {
    return { reason: 'no-caddy', found: 'no caddy on the PATH and no Caddy process running', fix: 'install Caddy (https://caddyserver.com/docs/install#debian-ubuntu-raspbian), put your Caddyfile in /etc/caddy/Caddyfile, start it (sudo systemctl enable --now caddy), then run adopt again' };
  }
  if (c.processes.length === 0) {
    return { reason: 'caddy-not-running', found: `Caddy is installed (${c.binary}) but no Caddy process runs`, fix: 'start it (sudo systemctl start caddy; see sudo journalctl -u caddy if it will not start), check your sites answer, then run adopt again' };
  }
  if (!c.source) {
    const argv = c.processes.map((p) => `pid ${p.pid}: ${p.argv.join(' ')}`).join('; ');
    return { reason: 'caddy-config-unknown', found: `Caddy runs (${argv}) without a --config file Portside can read, and caddy.service names none`, fix: 'run Caddy from a Caddyfile, as caddy.service does (caddy run --environ --config /etc/caddy/Caddyfile), then run adopt again' };
  }
  if (unread(c.text)) {
    return { reason: 'caddy-config-unknown', found: `Caddy was started with ${c.source.file} (${c.source.how}), but it cannot be read: ${c.text.error}`, fix: `make it readable by this user (the course does: sudo chown ${f.user} ${c.source.file}), then run adopt again` };
  }
  if (unread(c.adapted) || c.adapted === null) {
    const why = unread(c.adapted) ? c.adapted.error : 'nothing was printed';
    return { reason: 'caddy-config-invalid', found: `${c.source.file} does not adapt: ${why}`, fix: `fix it until \`caddy validate --config ${c.source.file}${c.source.adapter ? ` --adapter ${c.source.adapter}` : ''}\` passes, reload Caddy (sudo systemctl reload caddy), then run adopt again; Caddy keeps running its last good configuration meanwhile` };
  }
  if (!f.node.path) {
    return { reason: 'no-node', found: f.node.how, fix: 'install Node (the course uses nvm: nvm install --lts), then run adopt again' };
  }
  if (!f.pm2.bin) {
    return { reason: 'no-pm2', found: `pm2 is not installed for ${f.node.path}`, fix: 'install it (npm install -g pm2 in an interactive shell), start your services with pm2, then run adopt again' };
  }
  if (!f.pm2.daemonPid || f.pm2.processes === null) {
    return { reason: 'pm2-not-running', found: `pm2 is installed (${f.pm2.bin}) but its daemon is not running, so no service runs`, fix: 'bring your services back (pm2 resurrect, or pm2 start each one), check they answer, then run adopt again' };
  }
  if (unread(f.pm2.processes)) {
    return { reason: 'pm2-not-running', found: `pm2 jlist failed: ${f.pm2.processes.error}`, fix: 'check pm2 works in an interactive shell (pm2 ls), then run adopt again' };
  }
  return null;
}
