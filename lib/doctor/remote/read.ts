// `read` mode of the facts script, run on the server: files, pm2's list, disk, memory and sockets.
// It only reads; every fact that cannot be read becomes an { error } the checks report.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CURRENT_LINK, PRELOAD_FILE, REGISTRY_FILE, REGISTRY_HISTORY_DIR, RELEASES_SUBDIR, RELEASE_MANIFEST, SERVICES_DIR,
} from '../../remote/layout';
import { parsePm2Jlist, pm2Port } from '../../remote/pm2-list';
import type { CapacityFacts, Pm2Process, ServiceFolder } from '../types';
import type { OrError, RemoteRead } from './messages';

const HOME = os.homedir();

function readOr(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function attempt<T>(fn: () => T): OrError<T> {
  try {
    return fn();
  } catch (e) {
    return { error: String((e && (e as Error).message) || e).split('\n')[0] };
  }
}

/** Whether pm2's daemon runs (its pid file names a live process); pm2's own default home is ~/.pm2. */
function pm2Running(): boolean {
  const pid = Number(readOr(path.join(process.env.PM2_HOME || path.join(HOME, '.pm2'), 'pm2.pid')));
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const PRELOAD_NAME = path.basename(PRELOAD_FILE);

function pm2(): Pm2Process[] {
  // `pm2 jlist` would start a daemon when none runs: doctor changes nothing, so look first.
  if (!pm2Running()) return [];
  const out = execFileSync('pm2', ['jlist'], { encoding: 'utf8', timeout: 15000, stdio: ['ignore', 'pipe', 'pipe'] });
  return parsePm2Jlist(out).map((p) => {
    const env = p.pm2_env ?? {};
    const args = JSON.stringify([env.node_args, env.NODE_OPTIONS, env.env?.NODE_OPTIONS]);
    return { name: p.name, status: env.status as string, port: pm2Port(p), pid: p.pid || null, execMode: env.exec_mode as string, preload: args.includes(PRELOAD_NAME) };
  });
}

/** The release a service's `current` link points at, and that release's health path. */
function folder(base: string, name: string): ServiceFolder {
  let release: string | null = null;
  try {
    release = path.basename(fs.readlinkSync(path.join(base, name, CURRENT_LINK)));
  } catch {
    /* never switched */
  }
  let healthPath = '/';
  if (release) {
    try {
      healthPath = JSON.parse(fs.readFileSync(path.join(base, name, RELEASES_SUBDIR, release, RELEASE_MANIFEST), 'utf8')).healthPath || '/';
    } catch {
      /* an old release without a manifest */
    }
  }
  return { name, release, healthPath };
}

function folders(): ServiceFolder[] {
  const base = path.join(HOME, SERVICES_DIR);
  try {
    return fs.readdirSync(base).sort().map((name) => folder(base, name));
  } catch {
    return [];
  }
}

function capacity(): CapacityFacts {
  const st = fs.statfsSync(HOME);
  const mem = readOr('/proc/meminfo') || '';
  const kb = (k: string) => {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(mem);
    return m ? Number(m[1]) * 1024 : null;
  };
  return {
    diskFreeBytes: st.bavail * st.bsize,
    diskTotalBytes: st.blocks * st.bsize,
    memAvailableBytes: kb('MemAvailable') ?? os.freemem(),
    memTotalBytes: kb('MemTotal') ?? os.totalmem(),
  };
}

/** `ss -ltnpH`, with sudo when it may (only root sees every socket's owner). */
function sockets(): RemoteRead['sockets'] {
  for (const argv of [['sudo', '-n', 'ss', '-ltnpH'], ['ss', '-ltnpH']]) {
    try {
      return { text: execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }), privileged: argv[0] === 'sudo' };
    } catch {
      /* no sudo: try as the user */
    }
  }
  return { error: 'ss -ltnp failed' };
}

/** The registry's saved versions, newest first (their names sort by time). */
function registryHistory(): string[] {
  try {
    return fs.readdirSync(path.join(HOME, REGISTRY_HISTORY_DIR)).filter((n) => !n.startsWith('.')).sort().reverse();
  } catch {
    return [];
  }
}

/** Every fact `read` mode gathers. */
export function readFacts(): RemoteRead {
  const registryText = readOr(path.join(HOME, REGISTRY_FILE));
  let caddyfile: string | null = null;
  try {
    caddyfile = readOr(JSON.parse(registryText as string).paths.caddyfile);
  } catch {
    /* reported by the registry check */
  }
  return { registryText, registryHistory: registryHistory(), caddyfile, pm2: attempt(pm2), folders: folders(), capacity: attempt(capacity), sockets: sockets() };
}
