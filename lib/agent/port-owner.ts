// Who holds a TCP port on this machine, and whether an answer came from the process we started.
// Read from /proc (Linux): /proc/net/tcp{,6} maps a listening socket to an inode, and /proc/<pid>/fd
// maps inodes to processes. Only the deploy user's own processes can be seen; a socket of another
// user's process is reported as such.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { allPids, STAT, statFields } from './proc';

/** The inodes of sockets listening on `port` in a /proc/net/tcp table's text. Pure. */
export function listeningInodesIn(table: string, port: number): string[] {
  const inodes: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is the tenth field.
    if (f.length < 10 || f[3] !== '0A') continue;
    if (parseInt(f[1].split(':')[1], 16) === port) inodes.push(f[9]);
  }
  return inodes;
}

/** The inodes of sockets listening on `port` (any address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const i of listeningInodesIn(readFileSync(file, 'utf8'), port)) inodes.add(i);
    } catch {
      /* no IPv6 table */
    }
  }
  return inodes;
}

/** Whether one of a process's open files is one of these sockets. */
function holdsSocket(pid: number, inodes: ReadonlySet<string>): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      return !!m && inodes.has(m[1]);
    } catch {
      return false;
    }
  });
}

/** pids (of processes this user can see) that hold one of the sockets listening on `port`. */
export function listenerPids(port: number): { listening: boolean; pids: number[] } {
  const inodes = listeningInodes(port);
  if (!inodes.size) return { listening: false, pids: [] };
  return { listening: true, pids: allPids().filter((pid) => holdsSocket(pid, inodes)).sort((a, b) => a - b) };
}

/** A process's command line, for messages ("node /home/u/old/index.js 3000"), or '' when gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200);
  } catch {
    return '';
  }
}

export function parentOf(pid: number): number {
  const fields = statFields(pid);
  return fields ? Number(fields[STAT.PPID]) : 0;
}

/** The pids of a process group (those this user can see). */
export function groupMembers(pgid: number): number[] {
  return allPids().filter((pid) => {
    const fields = statFields(pid);
    return !!fields && Number(fields[STAT.PGRP]) === pgid;
  });
}

/** A process's environment as NAME=value strings ([] when it cannot be read). */
export function environOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Whether `pid` is `ancestor` or runs under it (npm start → sh → node: the answer comes from node). */
export function isSameOrDescendant(pid: number, ancestor: number): boolean {
  for (let p = pid, hops = 0; p > 1 && hops < 32; p = parentOf(p), hops++) {
    if (p === ancestor) return true;
  }
  return false;
}

/** Describe a port's holders for a message: "pid 123 (node /x/index.js 3000)", or who can't be seen. */
export function describeHolders(port: number): string | null {
  const { listening, pids } = listenerPids(port);
  if (!listening) return null;
  if (!pids.length) return 'a process of another user (not visible to the deploy user; `sudo ss -ltnp` names it)';
  return pids.map((pid) => `pid ${pid} (${commandLine(pid) || 'gone'})`).join(', ');
}

/** Whether something listens on 127.0.0.1:port right now (a listen attempt that fails with EADDRINUSE). */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE'));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}
