/**
 * The capacity family (lib/doctor/checks/capacity.ts): free disk and memory, with a warning below
 * twice the minimum and a failure below it. Facts in, checks out; no server.
 */
import { capacityFamily, DISK_MIN_BYTES, MEM_MIN_BYTES } from '../../lib/doctor/checks/capacity';
import { KEEP_RELEASES } from '../../lib/remote/layout';
import { healthy, run } from '../support/doctor-facts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const capacity = (diskFreeBytes: number, memAvailableBytes: number) =>
  run(capacityFamily, { ...healthy(), capacity: { diskFreeBytes, diskTotalBytes: 30 * GiB, memAvailableBytes, memTotalBytes: GiB } });

describe('capacity', () => {
  test('plenty: disk and memory pass, in MiB below 10 GiB', () => {
    expect(run(capacityFamily, healthy())).toEqual([
      { id: 'capacity.disk', status: 'pass', message: '5120 MiB of 8192 MiB free on the deploy user\'s disk' },
      { id: 'capacity.memory', status: 'pass', message: '600 MiB of 1024 MiB memory available' },
    ]);
  });

  test('10 GiB and more is shown in GiB', () => {
    expect(capacity(20 * GiB, 600 * MiB)[0].message).toBe('20 GiB of 30 GiB free on the deploy user\'s disk');
  });

  test('the thresholds: at the minimum a warning, just below it a failure, at twice it a pass', () => {
    const status = (disk: number, mem: number) => capacity(disk, mem).map((r) => r.status);
    expect(status(DISK_MIN_BYTES, MEM_MIN_BYTES)).toEqual(['warn', 'warn']);
    expect(status(DISK_MIN_BYTES - 1, MEM_MIN_BYTES - 1)).toEqual(['fail', 'fail']);
    expect(status(2 * DISK_MIN_BYTES, 2 * MEM_MIN_BYTES)).toEqual(['pass', 'pass']);
  });

  test('low disk: the fix names how many releases are kept, the npm cache and pm2\'s logs', () => {
    const [disk, mem] = capacity(100 * MiB, 200 * MiB);
    expect(disk).toEqual({
      id: 'capacity.disk', status: 'fail', message: '100 MiB of 30 GiB free on the deploy user\'s disk: a deploy needs room for a release and its node_modules',
      fix: `free space: old releases (portside keeps ${KEEP_RELEASES} per service), ~/.npm (npm cache clean --force), ~/.pm2/logs (pm2 flush)`,
    });
    expect(mem).toMatchObject({ status: 'warn', message: '200 MiB of 1024 MiB memory available: tight for npm ci' });
  });

  test('unreadable: one failure, without disk or memory lines', () => {
    expect(run(capacityFamily, { ...healthy(), capacity: { error: 'no node' } })).toEqual([{
      id: 'capacity', status: 'fail', message: 'could not read free disk and memory: no node', fix: 'check that node runs in a non-interactive SSH session',
    }]);
  });
});
