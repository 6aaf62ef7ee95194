/**
 * The keep-alive race between Caddy and a service, with real components: Caddy 2.6.2 on the Caddyfile
 * Portside renders, a Node service started with Portside's preload, and POSTs sent through Caddy just as
 * the service closes its idle keep-alive connections (test/fixtures/keepalive/race-client.js measures when
 * that is, then aims bursts of 30 POSTs at it). With Caddy's default upstream keep-alive (2 minutes) Caddy
 * reuses a connection the service is closing and answers 502 (measured: 28 and 41 of 360 in two runs); rendered with
 * UPSTREAM_KEEPALIVE, Caddy closes idle connections first. Runs in a private network namespace (its own
 * loopback, ports 80 and 3000), nothing shared with the stand-in; under the e2e lock because its timing
 * must not compete with another suite for the CPU.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCaddyfile, UPSTREAM_KEEPALIVE } from '../../lib/caddy';
import { bundlePreload } from '../support/preload-bundle';

const hasTools = spawnSync('sh', ['-c', 'command -v caddy && command -v curl && unshare -n true']).status === 0;
const describeReal = hasTools ? describe : describe.skip;
if (!hasTools) console.warn('upstream keep-alive e2e skipped: caddy, curl or unshare -n (root) is missing');

const FIXTURE = join(__dirname, '..', 'fixtures', 'keepalive');
/** The service closes idle connections after this plus Node's own buffer (1 s on Node 20.20): 3.5 s per round. */
const SERVICE_KEEP_ALIVE_MS = 2500;
const LANES = 30;
const ROUNDS = 12;

const SCENARIO = `
set -e
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
ip link set lo up
PORT=3000 KEEP_ALIVE_MS=${SERVICE_KEEP_ALIVE_MS} node --require "$PRELOAD" "$FIXTURE/app.js" &
caddy run --config "$DIR/Caddyfile" --adapter caddyfile >"$DIR/caddy.log" 2>&1 &
# Both must answer before the race starts: Caddy on 80 answers before the service listens on 3000.
for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:3000/ && curl -s -o /dev/null http://127.0.0.1:80/ && break; sleep 0.1; done
node "$FIXTURE/race-client.js" http://127.0.0.1/ka/ 3000 ${LANES} ${ROUNDS}
`;

describeReal('Caddy and a Node service at the service\'s keep-alive timeout', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'portside-keepalive-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('every POST sent as the service closes its idle connections is answered 200 (Caddy closes them first)', () => {
    writeFileSync(join(dir, 'Caddyfile'), renderCaddyfile({ routing: 'path', tls: 'acme', services: { ka: 3000 }, paths: { www: join(dir, 'www') } }));
    const env = { ...process.env, DIR: dir, FIXTURE, PRELOAD: bundlePreload(), HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
    const run = spawnSync('unshare', ['-n', 'bash', '-c', SCENARIO], { env, encoding: 'utf8', timeout: 80_000 });
    expect([run.status, run.stderr]).toEqual([0, '']);
    const result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { idleCloseMs: number; sent: number; statuses: Record<string, number> };
    // The race needs the service to close later than Caddy does: otherwise this test proves nothing.
    expect(result.idleCloseMs).toBeGreaterThan(parseFloat(UPSTREAM_KEEPALIVE) * 1000 + 1000);
    expect(result.statuses).toEqual({ 200: LANES * ROUNDS });
  }, 90_000);
});
