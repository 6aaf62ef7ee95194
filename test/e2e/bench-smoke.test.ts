/**
 * Keeps `npm run bench` from rotting: its pieces at tiny size against the shared local stand-in (a
 * dependency-free app with a copying build instead of Vite, one repetition, two redeploys under a
 * short load, a few latency samples). Checks that it runs to the end and writes its three files; the
 * figures themselves mean nothing at this size (the real numbers come from `npm run bench`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../../bench/run';
import { summarize } from '../../bench/load';
import { parseBytes, portsideRemove } from '../../bench/flows';
import { parseTrace, phasesOf } from '../../bench/breakdown';
import { stepTimes } from '../../bench/scale';
import { localServerUnavailable } from '../support/local-server';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;

describe('bench helpers', () => {
  test('parses the bytes Portside reports', () => {
    expect(parseBytes('sent 1 files (932 B); build')).toBe(932);
    expect(parseBytes('sent 6 files (541.3 kB); build')).toBe(Math.round(541.3 * 1024));
    expect(parseBytes('up to date')).toBe(0);
  });

  test('reads the step times from a deploy summary', () => {
    expect(stepTimes('deployed x\n  built\n  build 0.01s, manifest 0.05s, upload 0.12s; total 0.58s\n')).toEqual({ build: 10, manifest: 50, upload: 120 });
    expect(stepTimes('x is up to date on port 3000 (0.10s).')).toEqual({});
  });

  test('breaks a traced run into phases that add up to its wall-clock time', () => {
    const marks: Array<[string, number]> = [['cli code starts loading', 60], ['ssh connect called', 150], ['ssh ready', 280], ['exec 1 (test -f x) asked', 284], ['exec 2 (node .portside/bin/1/agent.js deploy) asked', 296],
      ['agent agent', 377], ['agent state', 390], ['agent result', 450], ['exit', 455]];
    const phases = phasesOf(800, marks, 40, 'npm');
    expect(phases[0]).toEqual({ name: expect.stringMatching(/^npm's launcher/), ms: 345 });
    expect(phases.reduce((n, p) => n + p.ms, 0)).toBe(800);
    expect(parseTrace(`x\nPORTSIDE_TRACE {"marks":[["exit",900]]}\nPORTSIDE_TRACE ${JSON.stringify({ marks })}\n`)).toEqual(marks);
  });

  test('the agent starts at the last command asked before its first line, however it is launched', () => {
    const marks: Array<[string, number]> = [['cli code starts loading', 60], ['ssh connect called', 150], ['ssh ready', 280], ['exec 1 (test -f x) asked', 284],
      ['exec 1 (test -f x) closed', 290], ['exec 2 (sh -c \'n=$1; shift; if [ -x "$n" ]; then) asked', 296], ['exec 2 (sh -c …) first output', 370],
      ['agent agent', 377], ['agent state', 390], ['agent result', 450], ['exit', 455]];
    const phases = phasesOf(800, marks, 40, 'npm');
    expect(phases.find((p) => /^agent start/.test(p.name))?.ms).toBe(377 - 296);
    expect(phases.find((p) => /^agent present/.test(p.name))?.ms).toBe(296 - 280);
  });

  test('summarizes failures, slow answers and the longest failure gap', () => {
    const ok = (t: number, ms = 5) => ({ t, ms, method: 'GET' as const, path: '/', status: 200, ok: true });
    const bad = (t: number, status = 502) => ({ t, ms: 10, method: 'POST' as const, path: '/api/score', status, ok: false });
    const s = summarize([ok(0), bad(20), bad(40, 404), ok(60), ok(80, 2500)]);
    expect(s).toMatchObject({ requests: 5, failed: 2, failedPost: 2, failedGet: 0, slow: 1, longestGapMs: 30 });
    expect(s.statuses).toEqual({ 200: 3, 502: 1, 404: 1 });
  });
});

describeE2E('npm run bench, tiny', () => {
  // Its three services (the scp flow's pm2 process has the same name) leave with it.
  afterAll(async () => {
    for (const name of ['smoke-portside', 'smoke-scp', 'smoke-ws']) await portsideRemove(name);
  }, 120_000);

  test('runs every scenario for both flows and writes the results', async () => {
    const out = mkdtempSync(join(tmpdir(), 'portside-bench-'));
    try {
      const lines: string[] = [];
      const { result, files } = await runBench({
        reps: 1, loadRedeploys: 1, rate: 50, latency: 100, fake: true, prefix: 'smoke', portBase: 4810, out, log: (l) => lines.push(l),
        bareScenarios: 'unchanged', breakdownRuns: 1,
      });
      expect(files.every((f) => existsSync(f))).toBe(true);
      expect(result.scenarios.map((s) => s.id)).toEqual(['unchanged', 'backend', 'frontend', 'dependency']);
      const unchanged = result.scenarios[0].flows.portside;
      expect(unchanged.bytes.median).toBe(0);
      // Portside timed through npm run deploy-service, and the bare CLI beside it where asked.
      expect(result.scenarios[0].flows.bare?.ms.median).toBeGreaterThan(0);
      expect(result.scenarios[1].flows.bare).toBeUndefined();
      expect(result.cold.portside.ms).toBeGreaterThan(0);
      expect(result.cold.scp.ms).toBeGreaterThan(0);
      expect(result.breakdown?.phases.find((p) => p.name.startsWith('SSH connect'))?.ms).toBeGreaterThan(0);
      expect(result.goals.map((g) => g.goal)).toEqual(expect.arrayContaining(["≥ 15× faster than the course's flow", "≥ 8× faster than the course's flow", "no slower than the course's first deploy"]));
      expect(result.load.map((l) => l.flow)).toEqual(['scp', 'portside']);
      expect(result.load.every((l) => l.summary.requests > 0)).toBe(true);
      expect(result.websocket.map((w) => w.flow)).toEqual(['scp', 'portside']);
      expect(result.latency?.caddy.p50).toBeGreaterThan(0);
      expect(readFileSync(files[0], 'utf8')).toContain('## Goals');
      expect(readFileSync(files[2], 'utf8')).toMatch(/^<svg/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 170_000);
});
