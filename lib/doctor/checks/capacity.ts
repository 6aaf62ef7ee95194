import { KEEP_RELEASES } from '../../remote/layout';
import { CapacityFacts, CheckResult, DoctorFacts, failed } from '../types';
import type { CheckFamily } from './family';

const MiB = 1024 * 1024;
/** Below these, the next `npm ci` or release is likely to fail: fail. Below twice these: warn. */
export const DISK_MIN_BYTES = 512 * MiB;
export const MEM_MIN_BYTES = 128 * MiB;

const mb = (n: number) => (n >= 10 * 1024 * MiB ? `${(n / 1024 / MiB).toFixed(0)} GiB` : `${Math.round(n / MiB)} MiB`);

/** Free disk and memory: a t3.micro has 1 GiB, and on-server `npm ci` is the usual OOM. */
export function capacityChecks(f: DoctorFacts): CheckResult[] {
  if (failed(f.capacity)) {
    return [{ id: 'capacity', status: 'fail', message: `could not read free disk and memory: ${f.capacity.error}`, fix: 'check that node runs in a non-interactive SSH session' }];
  }
  return [diskCheck(f.capacity), memoryCheck(f.capacity)];
}

function diskCheck(c: CapacityFacts): CheckResult {
  const disk = `${mb(c.diskFreeBytes)} of ${mb(c.diskTotalBytes)} free on the deploy user's disk`;
  const fix = `free space: old releases (portside keeps ${KEEP_RELEASES} per service), ~/.npm (npm cache clean --force), ~/.pm2/logs (pm2 flush)`;
  if (c.diskFreeBytes < DISK_MIN_BYTES) return { id: 'capacity.disk', status: 'fail', message: `${disk}: a deploy needs room for a release and its node_modules`, fix };
  if (c.diskFreeBytes < 2 * DISK_MIN_BYTES) return { id: 'capacity.disk', status: 'warn', message: `${disk}: getting low`, fix };
  return { id: 'capacity.disk', status: 'pass', message: disk };
}

function memoryCheck(c: CapacityFacts): CheckResult {
  const mem = `${mb(c.memAvailableBytes)} of ${mb(c.memTotalBytes)} memory available`;
  const fix = 'stop services you do not need (portside remove-service <name>), add swap, or use a larger instanceType';
  if (c.memAvailableBytes < MEM_MIN_BYTES) return { id: 'capacity.memory', status: 'fail', message: `${mem}: npm ci on the server will likely be killed`, fix };
  if (c.memAvailableBytes < 2 * MEM_MIN_BYTES) return { id: 'capacity.memory', status: 'warn', message: `${mem}: tight for npm ci`, fix };
  return { id: 'capacity.memory', status: 'pass', message: mem };
}

export const capacityFamily: CheckFamily = {
  name: 'capacity', idPrefix: 'capacity', run: capacityChecks,
  looksAt: 'free disk and memory on the server: room for a release and for npm ci',
};
