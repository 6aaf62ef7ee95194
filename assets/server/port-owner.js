'use strict';
// Who holds a TCP port on this machine, and whether an answer came from the process we started.
// Read from /proc (Linux): /proc/net/tcp{,6} maps a listening socket to an inode, and /proc/<pid>/fd
// maps inodes to processes. Only the deploy user's own processes can be seen; a socket of another
// user's process is reported as such.
const fs = require('fs');
const net = require('net');
const { STAT, statFields, allPids } = require('./proc');

/** The inodes of sockets listening on `port` (any address), from /proc/net/tcp and tcp6. */
function listeningInodes(port) {
  const inodes = new Set();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is the tenth field.
      if (f.length < 10 || f[3] !== '0A') continue;
      if (parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
    }
  }
  return inodes;
}

/** pids (of processes this user can see) that hold one of the sockets listening on `port`. */
function listenerPids(port) {
  const inodes = listeningInodes(port);
  const pids = new Set();
  if (!inodes.size) return { listening: false, pids: [] };
  for (const pid of allPids()) {
    let fds;
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1])) pids.add(Number(pid));
    }
  }
  return { listening: true, pids: [...pids].sort((a, b) => a - b) };
}

/** A process's command line, for messages ("node /home/u/old/index.js 3000"), or '' when gone. */
function commandLine(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200);
  } catch {
    return '';
  }
}

function parentOf(pid) {
  const fields = statFields(pid);
  return fields ? Number(fields[STAT.PPID]) : 0;
}

/** The pids of a process group (those this user can see). */
function groupMembers(pgid) {
  return allPids().filter((pid) => {
    const fields = statFields(pid);
    return !!fields && Number(fields[STAT.PGRP]) === pgid;
  });
}

/** A process's environment as NAME=value strings ([] when it cannot be read). */
function environOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Whether `pid` is `ancestor` or runs under it (npm start → sh → node: the answer comes from node). */
function isSameOrDescendant(pid, ancestor) {
  for (let p = pid, hops = 0; p > 1 && hops < 32; p = parentOf(p), hops++) {
    if (p === ancestor) return true;
  }
  return false;
}

/** Describe a port's holders for a message: "pid 123 (node /x/index.js 3000)", or who can't be seen. */
function describeHolders(port) {
  const { listening, pids } = listenerPids(port);
  if (!listening) return null;
  if (!pids.length) return 'a process of another user (not visible to the deploy user; `sudo ss -ltnp` names it)';
  return pids.map((pid) => `pid ${pid} (${commandLine(pid) || 'gone'})`).join(', ');
}

/** Whether something listens on 127.0.0.1:port right now (a listen attempt that fails with EADDRINUSE). */
function portInUse(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e) => resolve(e.code === 'EADDRINUSE'));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

module.exports = { groupMembers, environOf, listenerPids, commandLine, isSameOrDescendant, describeHolders, portInUse, parentOf };
