/**
 * A server adopt cannot understand is refused before any plan, with what was found and what to do:
 * a valid course server's facts, then one thing missing per test.
 */
import { formatRefusal, refusalOf, ServerFacts } from '../../lib/adopt';
import { courseFacts } from '../support/course-facts';

const ok = courseFacts();
const withCaddy = (c: Partial<ServerFacts['caddy']>): ServerFacts => ({ ...ok, caddy: { ...ok.caddy, ...c } });
const withPm2 = (p: Partial<ServerFacts['pm2']>): ServerFacts => ({ ...ok, pm2: { ...ok.pm2, ...p } });

test('a course server is not refused', () => {
  expect(refusalOf(ok)).toBeNull();
});

test.each<[string, ServerFacts, string, RegExp]>([
  ['no Caddy at all', withCaddy({ binary: null, processes: [] }), 'no-caddy', /install Caddy/],
  ['Caddy installed, not running', withCaddy({ processes: [] }), 'caddy-not-running', /sudo systemctl start caddy/],
  ['Caddy running without a config file anyone names', withCaddy({ source: null }), 'caddy-config-unknown', /caddy run --environ --config/],
  ['the config file cannot be read', withCaddy({ text: { error: 'Permission denied' } }), 'caddy-config-unknown', /chown ubuntu \/etc\/caddy\/Caddyfile/],
  ['the config file does not adapt', withCaddy({ adapted: { error: 'ambiguous site definition: simon.course.test' } }), 'caddy-config-invalid', /caddy validate --config \/etc\/caddy\/Caddyfile --adapter caddyfile/],
  ['no Node', { ...ok, node: { path: null, how: 'no node found', onPath: false } }, 'no-node', /nvm install --lts/],
  ['no pm2', withPm2({ bin: null }), 'no-pm2', /npm install -g pm2/],
  ['pm2 installed, its daemon not running', withPm2({ daemonPid: null, processes: null }), 'pm2-not-running', /pm2 resurrect/],
  ['pm2 jlist failing', withPm2({ processes: { error: 'connect ECONNREFUSED' } }), 'pm2-not-running', /pm2 ls/],
])('refuses %s', (_what, facts, reason, fix) => {
  const r = refusalOf(facts)!;
  expect(r.reason).toBe(reason);
  expect(r.fix).toMatch(fix);
  expect(formatRefusal(r, 'ubuntu@203.0.113.7').at(-1)).toBe('Nothing on the server was changed.');
});

test('the adapt error is quoted as Caddy printed it', () => {
  const r = refusalOf(withCaddy({ adapted: { error: 'ambiguous site definition: simon.course.test' } }))!;
  expect(r.found).toBe('/etc/caddy/Caddyfile does not adapt: ambiguous site definition: simon.course.test');
});
