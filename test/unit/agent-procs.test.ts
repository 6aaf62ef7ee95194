/** The agent's pure process helpers (lib/agent/procs.ts, commands/live-checks.ts). */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { appConfig, probePortFor } from '../../lib/agent/procs';
import { parseEphemeralRange, probeRange } from '../../lib/ports/probe-range';
import { whatChanged } from '../../lib/agent/commands/live-checks';
import { CURRENT_LINK, onServer, PRELOAD_FILE, PROBE_PORT_MAX, PROBE_PORT_MIN, serviceDir } from '../../lib/remote/layout';

describe('the probe port', () => {
  test('covers the whole dynamic range, 49152 to 65535 (it once stopped at 65151)', () => {
    expect(PROBE_PORT_MIN).toBe(49152);
    expect(PROBE_PORT_MAX).toBe(65535);
    expect(probePortFor(0)).toBe(49152);
    expect(probePortFor(0.999999999)).toBe(65535);
  });

  test('outside the kernel\'s ephemeral range, where outgoing connections take their local ports', () => {
    expect(probeRange({ min: 32768, max: 60999 })).toEqual({ min: 61000, max: 65535 }); // Linux's default
    expect(probeRange({ min: 1024, max: 65535 })).toEqual({ min: 49152, max: 65535 }); // nothing left: the whole range
    expect(probeRange({ min: 55000, max: 65535 })).toEqual({ min: 49152, max: 54999 }); // the part below
    expect(probeRange({ min: 50000, max: 60000 })).toEqual({ min: 60001, max: 65535 }); // the larger part
    expect(probeRange(null)).toEqual({ min: 49152, max: 65535 });
    expect(parseEphemeralRange('32768\t60999\n')).toEqual({ min: 32768, max: 60999 });
    expect(parseEphemeralRange('60999 32768')).toBeNull();
    expect(parseEphemeralRange('')).toBeNull();
    for (let i = 0; i < 1000; i++) {
      const port = probePortFor(Math.random(), probeRange({ min: 32768, max: 60999 }));
      expect(port).toBeGreaterThanOrEqual(61000);
      expect(port).toBeLessThanOrEqual(65535);
    }
  });

  test('every draw lands inside the range', () => {
    for (let i = 0; i < 1000; i++) {
      const port = probePortFor(Math.random());
      expect(port).toBeGreaterThanOrEqual(PROBE_PORT_MIN);
      expect(port).toBeLessThanOrEqual(PROBE_PORT_MAX);
    }
  });
});

describe('the pm2 definition', () => {
  const base = onServer('/home/u', serviceDir('simon'));
  test('a node script runs in cluster mode (pm2 holds the socket and reloads without a gap); its keys keep their order', () => {
    const c = appConfig('simon', base, { script: 'index.js' }, 3000);
    // A redeploy reloads only when pm2.json, stringified, equals this: the order is part of the contract.
    expect(Object.keys(c)).toEqual(['name', 'cwd', 'args', 'env', 'kill_timeout', 'listen_timeout', 'max_restarts', 'min_uptime', 'merge_logs', 'time', 'script', 'exec_mode', 'instances', 'node_args']);
    expect(c).toMatchObject({ script: join(base, CURRENT_LINK, 'index.js'), exec_mode: 'cluster', args: ['3000'], env: { PORT: '3000', PORTSIDE_SERVICE: 'simon' } });
  });

  test('an npm script runs in fork mode with the preload in NODE_OPTIONS', () => {
    const c = appConfig('simon', base, { npmScript: 'start' }, 3000);
    expect(c).toMatchObject({ script: 'npm', args: ['run', 'start', '--', '3000'], exec_mode: 'fork' });
    expect(c.env.NODE_OPTIONS).toBe(`--require ${onServer(homedir(), PRELOAD_FILE)}`);
  });
});

describe('a release that did not stay up, in words', () => {
  const proc = (pid: number, restarts: number, status = 'online') => ({ name: 'simon', pid, pm2_env: { status, restart_time: restarts } });
  test('replaced by pm2 after exiting', () => {
    expect(whatChanged(proc(10, 0), proc(11, 1), '/', 200)).toBe('pm2 runs pid 11 now, not 10; restarts 0 → 1; GET /: 200');
  });
  test('gone from pm2', () => {
    expect(whatChanged(proc(10, 0), null, '/health', 'ECONNREFUSED')).toBe('pm2 no longer lists it; GET /health: ECONNREFUSED');
  });
  test('pm2 gave up on it', () => {
    expect(whatChanged(proc(10, 0), proc(10, 0, 'errored'), '/', 'ECONNREFUSED')).toBe('status errored; GET /: ECONNREFUSED');
  });
});
