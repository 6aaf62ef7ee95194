/**
 * Server facts for adopt's planner tests: a valid course server (the fixture's Caddyfile, adapted by
 * the real `caddy adapt`, two pm2 services on loopback) and helpers to change one thing at a time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ListeningSocket } from '../../lib/doctor/types';
import type { Pm2Process, ServerFacts } from '../../lib/adopt';
import type { PortsideRootFacts } from '../../lib/adopt/caddy-reach';
import { courseShape } from '../../lib/targets/course/layout';

/** `caddy adapt` of a Caddyfile, by the real binary (Caddy 2.6.2 here): the configuration as Caddy parses it. */
export function adapt(caddyfile: string): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'adopt-caddy-'));
  try {
    writeFileSync(join(dir, 'Caddyfile'), caddyfile);
    return JSON.parse(execFileSync('caddy', ['adapt', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const HOME = '/home/ubuntu';
export const NODE = `${HOME}/.nvm/versions/node/v20.20.2/bin/node`;

export function pm2Process(name: string, port: number, pid: number, more: Partial<Pm2Process> = {}): Pm2Process {
  return {
    name, pmId: pid - 100, pid, status: 'online', execMode: 'fork', script: `${HOME}/services/${name}/index.js`, cwd: `${HOME}/services/${name}`,
    args: [String(port), name], envPort: null, interpreter: 'node', ...more,
  };
}

export function socket(port: number, pid: number | null, address = '127.0.0.1'): ListeningSocket {
  return { address, port, processes: pid ? ['node /home/ubun'] : [], pids: pid ? [pid] : [] };
}

/** Caddy's own sockets as the user sees them (no process: Caddy runs as another user). */
export const CADDY_SOCKETS: ListeningSocket[] = [socket(2019, null), socket(80, null, '*'), socket(443, null, '*'), socket(22, null, '0.0.0.0')];

/** Caddy's user (caddy.service's User=caddy) and /usr/share/caddy, which the course chowns to ubuntu (uid 1000): Caddy reads it, ubuntu writes it. */
export function courseRoots(): PortsideRootFacts {
  const dir = (path: string, mode = 0o755, uid = 0) => ({ path, mode, uid, gid: uid });
  return {
    caddyUser: { name: 'caddy', uid: 998, gids: [998], how: 'caddy.service\'s User=caddy' },
    folders: [{ path: '/usr/share/caddy', exists: true, writable: true, chain: [dir('/'), dir('/usr'), dir('/usr/share'), dir('/usr/share/caddy', 0o755, 1000)] }],
  };
}

/** The course server as its material describes it: a valid baseline. */
export function courseFacts(over: { caddyfile?: string; processes?: Pm2Process[]; sockets?: ListeningSocket[]; folders?: string[]; running?: unknown; roots?: ServerFacts['portsideRoots'] } = {}): ServerFacts {
  const caddyfile = over.caddyfile ?? courseShape('course').caddyfile;
  const adapted = adapt(caddyfile);
  const processes = over.processes ?? [pm2Process('simon', 3000, 101), pm2Process('startup', 4000, 102)];
  return {
    user: 'ubuntu', home: HOME,
    caddy: {
      binary: '/usr/bin/caddy', processes: [{ pid: 15, argv: ['/usr/bin/caddy', 'run', '--environ', '--config', '/etc/caddy/Caddyfile'] }],
      source: { file: '/etc/caddy/Caddyfile', adapter: 'caddyfile', how: 'the running Caddy\'s command line (pid 15)' },
      text: caddyfile, adapted, running: over.running ?? adapted,
    },
    node: { path: NODE, how: 'the pm2 daemon\'s executable (pid 40)', onPath: false },
    pm2: { bin: `${HOME}/.nvm/versions/node/v20.20.2/bin/pm2`, daemonPid: 40, processes },
    sockets: over.sockets ?? [...CADDY_SOCKETS, ...processes.map((p) => socket(Number(p.args[0]), p.pid))],
    serviceFolders: over.folders ?? processes.map((p) => p.name),
    publicHtml: '/usr/share/caddy',
    portsideRoots: over.roots ?? courseRoots(),
  };
}
