import { CheckResult, DoctorFacts, failed } from '../types';

const MiB = 1024 * 1024;
/** Below these, the next `npm ci` or release is likely to fail: fail. Below twice these: warn. */
export const DISK_MIN_BYTES = 512 * MiB;
export const MEM_MIN_BYTES = 128 * MiB;

const mb = (n: number) => (n >= 10 * 1024 * MiB ? `${(n / 1024 / MiB).toFixed(0)} GiB` : `${Math.round(n / MiB)} MiB`);

/** Free disk and memory (a t3.micro has 1 GiB; on-server `npm ci` is the usual OOM), and the tools a deploy runs. */
export function capacityChecks(f: DoctorFacts): CheckResult[] {
  const out: CheckResult[] = [];
  if (failed(f.capacity)) {
    out.push({ id: 'capacity', status: 'fail', message: `could not read free disk and memory: ${f.capacity.error}`, fix: 'check that node runs in a non-interactive SSH session' });
  } else {
    const c = f.capacity;
    const disk = `${mb(c.diskFreeBytes)} of ${mb(c.diskTotalBytes)} free on the deploy user's disk`;
    const diskFix = 'free space: old releases (portside keeps 5 per service), ~/.npm (npm cache clean --force), ~/.pm2/logs (pm2 flush)';
    if (c.diskFreeBytes < DISK_MIN_BYTES) out.push({ id: 'capacity.disk', status: 'fail', message: `${disk}: a deploy needs room for a release and its node_modules`, fix: diskFix });
    else if (c.diskFreeBytes < 2 * DISK_MIN_BYTES) out.push({ id: 'capacity.disk', status: 'warn', message: `${disk}: getting low`, fix: diskFix });
    else out.push({ id: 'capacity.disk', status: 'pass', message: disk });
    const mem = `${mb(c.memAvailableBytes)} of ${mb(c.memTotalBytes)} memory available`;
    const memFix = 'stop services you do not need (portside remove-service <name>), add swap, or use a larger instanceType';
    if (c.memAvailableBytes < MEM_MIN_BYTES) out.push({ id: 'capacity.memory', status: 'fail', message: `${mem}: npm ci on the server will likely be killed`, fix: memFix });
    else if (c.memAvailableBytes < 2 * MEM_MIN_BYTES) out.push({ id: 'capacity.memory', status: 'warn', message: `${mem}: tight for npm ci`, fix: memFix });
    else out.push({ id: 'capacity.memory', status: 'pass', message: mem });
  }
  for (const tool of ['node', 'npm', 'pm2'] as const) {
    const path = f.tools[tool];
    out.push(path
      ? { id: `capacity.tool.${tool}`, status: 'pass', message: `${tool} resolves to ${path} in a non-interactive SSH session` }
      : { id: `capacity.tool.${tool}`, status: 'fail', message: `${tool} is not on the PATH of a non-interactive SSH session`,
        fix: tool === 'pm2' ? 'install it for every user: sudo npm install -g pm2' : 'install Node.js system-wide (the bootstrap installs it under /usr/bin); a PATH set in ~/.bashrc is not read by non-interactive sessions' });
  }
  return out;
}
