/**
 * The bench's cool-down before each timed command (bench/settle.ts): /proc/stat read as idle and total
 * time of all cores, and a wait that ends on a quiet machine.
 */
import { cpuTimes, settle, settleWaits } from '../../bench/settle';

describe('cpuTimes: /proc/stat\'s first line', () => {
  test('idle is idle + iowait; total is every column', () => {
    const stat = 'cpu  100 5 50 800 20 0 10 0 0 0\ncpu0 50 2 25 400 10 0 5 0 0 0\nintr 1\n';
    expect(cpuTimes(stat)).toEqual({ idle: 820, total: 985 });
  });
});

describe('settle', () => {
  test('waits at least one window, at most about maxMs, and records the wait', async () => {
    const before = settleWaits.length;
    // idleShare above 1 can never be met: the wait ends at maxMs.
    const waited = await settle({ idleShare: 1.1, windowMs: 20, maxMs: 100 });
    expect(waited).toBeGreaterThanOrEqual(100);
    expect(waited).toBeLessThan(1000);
    // Any idle share at all: one window.
    const quick = await settle({ idleShare: 0, windowMs: 20, maxMs: 1000 });
    expect(quick).toBeGreaterThanOrEqual(19);
    expect(quick).toBeLessThan(500);
    expect(settleWaits.length).toBe(before + 2);
  });
});
