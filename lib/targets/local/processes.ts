import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { run } from './exec';
import { NETNS } from './constants';

/** Whether a process with this id exists (and is not a zombie). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The pid in a pid file, or undefined when the file is absent or garbage. */
export function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The live pid from a pid file; a stale file (its process is gone) is removed. */
export function livePid(file: string): number | undefined {
  const pid = readPid(file);
  if (isAlive(pid)) return pid;
  rmSync(file, { force: true });
  return undefined;
}

/** The command name of a process (`/proc/<pid>/comm`), or undefined when it is gone. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Every process inside a namespace (`ip netns pids`); empty when the namespace does not exist. */
export function pidsInNetns(netns = NETNS): number[] {
  const r = run(['ip', 'netns', 'pids', netns]);
  return r.code === 0 ? r.stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0) : [];
}

/** Every process whose real uid is `uid` (read from /proc; no name matching). */
export function pidsOfUid(uid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const m = /^Uid:\s+(\d+)/m.exec(status);
      if (m && Number(m[1]) === uid) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** The network namespace a process lives in, as `net:[inode]`. */
export function netnsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** SIGTERM the given processes, wait up to `graceMs`, then SIGKILL whatever is left. */
export async function terminate(pids: readonly number[], graceMs = 3000): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
  const killDeadline = Date.now() + 2000;
  while (pids.some(isAlive) && Date.now() < killDeadline) await sleep(20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Processes of the stand-in stranded in an older copy of its namespace (the namespace was deleted
 * while they ran, e.g. by a killed run or by hand): the deploy user's, and any whose command line or
 * environment names `stateDir` (sshd, Caddy). A new namespace cannot reach them, and a stranded pm2
 * daemon would still answer the user's `pm2` commands, so they must go.
 */
export function strandedPids(uid: number | undefined, stateDir: string, currentNetns: string | undefined): number[] {
  const hostNetns = netnsOf(process.pid);
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ns = netnsOf(pid);
    if (!ns || ns === hostNetns || ns === currentNetns) continue;
    try {
      const ownUid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      const mentions = (file: string) => readFileSync(`/proc/${pid}/${file}`, 'latin1').includes(stateDir);
      if ((uid !== undefined && ownUid === uid) || mentions('cmdline') || mentions('environ')) out.push(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}
