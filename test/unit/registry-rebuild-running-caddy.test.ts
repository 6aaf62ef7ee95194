/**
 * Which running Caddy a registry rebuild reads (lib/agent/registry-store.ts runningCaddys + registry-rebuild.ts
 * chooseRunningCaddy). On the local fleet every server is a network namespace in the host's one pid namespace,
 * so the agent sees every server's Caddy; it used to take the first one found, and s2/s3 rebuilt their
 * registries with s1's Caddyfile (then EACCES on s1's folder). Real processes: two real `caddy run`, one in
 * this process's network namespace and one in a namespace of its own (unshare -n), read through real /proc.
 * Runs as root (the unit suite does): unshare needs it.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaddyProcess, chooseRunningCaddy, OwnNetwork } from '../../lib/agent/registry-rebuild';
import { runningCaddys } from '../../lib/agent/registry-store';

const NOBODY = 65534;
let dir: string;
const procs: ChildProcess[] = [];
let here: { pid: number; config: string };
let apart: { pid: number; config: string };

/** Start a real `caddy run` (optionally in a new network namespace) and wait until it serves. */
async function startCaddy(name: string, port: number, ownNetns: boolean): Promise<{ pid: number; config: string }> {
  const folder = join(dir, name);
  mkdirSync(folder);
  const config = join(folder, 'Caddyfile');
  writeFileSync(config, `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${join(folder, 'data')}\n}\n:${port} {\n\trespond "${name}"\n}\n`);
  const argv = ['caddy', 'run', '--config', config, '--adapter', 'caddyfile'];
  const child = ownNetns ? spawn('unshare', ['-n', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(child);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`caddy ${name} did not start: ${err}`)), 15000);
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('serving initial configuration')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`caddy ${name} exited with ${code}: ${err}`)));
  });
  return { pid: child.pid as number, config };
}

/** What /proc says about one of them (as runningCaddys reads it for every Caddy on the host). */
const seen = (pid: number, uid?: number): CaddyProcess => {
  const found = runningCaddys(uid).find((c) => c.pid === pid);
  if (!found) throw new Error(`runningCaddys() did not list pid ${pid}`);
  return found;
};
const network = (pid: number | 'self'): OwnNetwork => {
  const mine = runningCaddys().find((c) => c.pid === pid);
  return { netns: readlinkSync(`/proc/${pid}/ns/net`), listening: mine ? mine.listening : [] };
};
/** As the deploy user sees another user's process: no namespace link, only the sockets. */
const unreadable = (c: CaddyProcess): CaddyProcess => ({ ...c, netns: null });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portside-running-caddy-'));
  here = await startCaddy('here', 38471, false);
  apart = await startCaddy('apart', 38472, true);
}, 30000);

afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('the running Caddy a registry rebuild reads', () => {
  test('/proc lists both real Caddys, each with its namespace and its listening sockets', () => {
    const a = seen(here.pid);
    const b = seen(apart.pid);
    expect([a.config, b.config]).toEqual([here.config, apart.config]);
    expect(a.netns).toBe(readlinkSync('/proc/self/ns/net'));
    expect(b.netns).not.toBe(a.netns);
    expect(b.listening.length).toBeGreaterThan(0);
    expect(b.listening.some((i) => a.listening.includes(i))).toBe(false);
  });

  test('from this namespace: this namespace\'s Caddy, whichever /proc lists first', () => {
    const own = { netns: readlinkSync('/proc/self/ns/net'), listening: runningCaddys().find((c) => c.pid === here.pid)!.listening };
    expect(chooseRunningCaddy([seen(apart.pid), seen(here.pid)], own, 'portside-s2')).toBe(here.config);
    expect(chooseRunningCaddy([seen(here.pid), seen(apart.pid)], own, 'portside-s2')).toBe(here.config);
  });

  test('from the other namespace: its own Caddy, never the first one found', () => {
    expect(chooseRunningCaddy([seen(here.pid), seen(apart.pid)], network(apart.pid), 'portside-s2')).toBe(apart.config);
  });

  test('as a deploy user who cannot read the namespace links: told apart by the listening sockets', () => {
    const own = { netns: null, listening: network(apart.pid).listening };
    expect(chooseRunningCaddy([unreadable(seen(here.pid)), unreadable(seen(apart.pid))], own, 'portside-s2')).toBe(apart.config);
  });

  test('only another namespace\'s Caddy runs: none is this server\'s (null), not that one', () => {
    const own = { netns: readlinkSync('/proc/self/ns/net'), listening: network(here.pid).listening };
    expect(chooseRunningCaddy([seen(apart.pid)], own, 'portside-s2')).toBeNull();
  });

  test('nothing tells the namespaces apart: the one whose folder the deploy user owns', () => {
    chownSync(join(dir, 'apart'), NOBODY, NOBODY);
    const blind = (c: CaddyProcess): CaddyProcess => ({ ...unreadable(c), listening: [] });
    const own = { netns: null, listening: [] };
    expect(chooseRunningCaddy([blind(seen(here.pid, NOBODY)), blind(seen(apart.pid, NOBODY))], own, 'nobody')).toBe(apart.config);
  });

  test('nothing tells them apart and the user owns neither folder: refused with the value, the rule and the fix', () => {
    const blind = (c: CaddyProcess): CaddyProcess => ({ ...unreadable(c), listening: [] });
    const own = { netns: null, listening: [] };
    expect(() => chooseRunningCaddy([blind(seen(here.pid, 4242)), blind(seen(apart.pid, 4242))], own, 'portside-s2')).toThrow(
      `the registry cannot be rebuilt from the running Caddy: pid ${here.pid} --config ${here.config}, pid ${apart.pid} --config ${apart.config} could each serve this server `
      + '(their network namespace cannot be read) and portside-s2 owns the folder of none; the registry is rebuilt only from this server\'s own Caddy, never another server\'s. '
      + 'Fix: put a saved version back (cp ~/.portside/registry.history/<newest> ~/.portside/registry.json), or set PORTSIDE_CADDYFILE to this server\'s Caddyfile for the agent');
  });

  test('one Caddy on the host (EC2), in this namespace: today\'s choice', () => {
    const own = { netns: readlinkSync('/proc/self/ns/net'), listening: network(here.pid).listening };
    expect(chooseRunningCaddy([seen(here.pid)], own, 'ubuntu')).toBe(here.config);
    expect(chooseRunningCaddy([], own, 'ubuntu')).toBeNull();
  });
});
