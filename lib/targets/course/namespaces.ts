import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toShellLine } from '../../ssh/quote';
import { run, runOrThrow } from '../local/exec';
import { HostRequirementError } from '../local/host-requirements';
import { isAlive, readPid, sleep, terminate } from '../local/processes';
import {
  COURSE_ADDRESS, COURSE_HOST_ADDRESS, COURSE_HOST_IF, COURSE_NETNS, COURSE_NS_IF, COURSE_PATHS, COURSE_PREFIX_LENGTH,
  COURSE_USER, ON_SERVER,
} from './constants';

const NETNS_FILE = `/run/netns/${COURSE_NETNS}`;

/**
 * The course server's "init": pid 1 of its own pid namespace (so `/proc` and `ps` on the server show
 * only its processes, as on a real machine), in its own mount namespace (its binds, below) and in
 * the network namespace. Killing it ends every process of the server at once.
 */
export function holderPid(): number | undefined {
  const pid = readPid(COURSE_PATHS.holderPid);
  return pid && isAlive(pid) ? pid : undefined;
}

/** The argv that runs `argv` on the course server: inside its pid, mount and network namespaces, as root. */
export function onCourse(argv: readonly string[]): string[] {
  const pid = holderPid();
  if (!pid) throw new Error('the course server is not up (its init process is gone): run courseUp()');
  return ['nsenter', '-t', String(pid), '-m', '-n', '-p', '--', ...argv];
}

/** The PATH OpenSSH gives a non-interactive session (no profile is read): nvm's Node is not on it. */
export const SESSION_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/games';

/** The argv that runs `argv` on the course server as `ubuntu`, with the environment of a non-interactive SSH session. */
export function asUbuntu(argv: readonly string[]): string[] {
  return onCourse(['runuser', '-u', COURSE_USER, '--', 'env', '-i', `HOME=${ON_SERVER.home}`, `USER=${COURSE_USER}`,
    `LOGNAME=${COURSE_USER}`, 'SHELL=/bin/bash', `PATH=${SESSION_PATH}`, 'LANG=C.UTF-8', ...argv]);
}

/**
 * What the mount namespace hides or replaces, as (source on the host, target inside), after
 * userDatabase (which gives the server `ubuntu`): /etc/caddy, /usr/share/caddy and /home are the
 * fixture's own; the host's global npm and pm2 are hidden when `hideNode` (a course server has Node
 * only from nvm; see hideSystemNode).
 */
function binds(hideNode: boolean): Array<[string, string]> {
  return [
    [COURSE_PATHS.etcCaddy, '/etc/caddy'],
    [COURSE_PATHS.shareCaddy, ON_SERVER.staticRoot],
    [COURSE_PATHS.home, '/home'],
    ...(hideNode ? [[COURSE_PATHS.emptyDir, '/usr/lib/node_modules'] as [string, string]] : []),
  ];
}

/**
 * The user database (the host's plus `ubuntu`): /etc as an overlay whose upper layer holds passwd,
 * group and shadow. Not binds of those files: a host `useradd`/`userdel` (the local stand-in's deploy
 * user, the fleet tests) replaces /etc/passwd by rename, and since Linux 3.18 that detaches a bind on
 * the file in every other mount namespace: the server lost `ubuntu` mid-test (sshd refused the key).
 */
function userDatabase(): string {
  const work = `${COURSE_PATHS.etc}-work`;
  mkdirSync(work, { recursive: true });
  return toShellLine(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=/etc,upperdir=${COURSE_PATHS.etc},workdir=${work}`, '/etc']);
}

/**
 * /usr/bin as the server has it: the host's, with node, npm, npx and pm2 removed by overlayfs
 * whiteouts (a file left there, even non-executable, is still what bash's `command -v` reports).
 */
function hideSystemNode(): string {
  const upper = join(COURSE_PATHS.usrBin, 'upper');
  const work = join(COURSE_PATHS.usrBin, 'work');
  mkdirSync(upper, { recursive: true });
  mkdirSync(work, { recursive: true });
  for (const name of ['node', 'npm', 'npx', 'pm2']) runOrThrow(['mknod', join(upper, name), 'c', '0', '0']);
  return toShellLine(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=/usr/bin,upperdir=${upper},workdir=${work}`, '/usr/bin']);
}

/**
 * pid 1's work: reap every orphan, as init does. Without it a process whose parent died (Caddy after
 * its supervisor is stopped) stays a zombie named "caddy", and the server looks as if Caddy still ran.
 * Perl (Debian's perl-base is essential) because its wait() is waitpid(-1): any child, adopted ones too.
 */
const REAPER = 'while (1) { sleep 1 if wait() == -1 }';

/**
 * Make the network namespace with its veth pair and addresses, then the server's init inside it (see
 * holderPid). `hideNode`: the system's node, npm and pm2 are not there (a server with Node from nvm).
 */
export async function createNamespaces(hideNode: boolean, log: (line: string) => void): Promise<void> {
  assertAddressesFree();
  log(`creating network namespace "${COURSE_NETNS}" (${COURSE_HOST_IF} ${COURSE_HOST_ADDRESS} <-> ${COURSE_NS_IF} ${COURSE_ADDRESS})`);
  runOrThrow(['ip', 'netns', 'add', COURSE_NETNS]);
  runOrThrow(['ip', 'link', 'add', COURSE_HOST_IF, 'type', 'veth', 'peer', 'name', COURSE_NS_IF, 'netns', COURSE_NETNS]);
  runOrThrow(['ip', 'addr', 'replace', `${COURSE_HOST_ADDRESS}/${COURSE_PREFIX_LENGTH}`, 'dev', COURSE_HOST_IF]);
  runOrThrow(['ip', 'link', 'set', COURSE_HOST_IF, 'up']);
  runOrThrow(['ip', '-n', COURSE_NETNS, 'addr', 'replace', `${COURSE_ADDRESS}/${COURSE_PREFIX_LENGTH}`, 'dev', COURSE_NS_IF]);
  runOrThrow(['ip', '-n', COURSE_NETNS, 'link', 'set', COURSE_NS_IF, 'up']);
  runOrThrow(['ip', '-n', COURSE_NETNS, 'link', 'set', 'lo', 'up']);

  const mounts = [userDatabase(), ...binds(hideNode).map(([source, target]) => toShellLine(['mount', '--bind', source, target])), ...(hideNode ? [hideSystemNode()] : [])].join(' && ');
  const ready = `${COURSE_PATHS.holderPid}.ready`;
  // unshare forks pid 1 of the new pid namespace and waits for it; pid 1 makes the binds in its
  // private mount namespace, says so, and then reaps orphans for the server's lifetime.
  const child = spawn('ip', ['netns', 'exec', COURSE_NETNS, 'unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', '--',
    'sh', '-c', `${mounts} && : > ${toShellLine([ready])} && exec perl -e ${toShellLine([REAPER])}`], { detached: true, stdio: 'ignore' });
  child.unref();
  const deadline = Date.now() + 5000;
  while (!existsSync(ready)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the course server's init did not start (binds: ${mounts})`);
    await sleep(20);
  }
  const init = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)[0];
  writeFileSync(COURSE_PATHS.holderPid, `${init}\n`);
}

/** End every process of the server (by killing its init), then remove the namespace and veth. Idempotent. */
export async function removeNamespaces(): Promise<void> {
  const init = holderPid();
  if (init) process.kill(init, 'SIGKILL');
  await terminate(pidsOnCourse(), 1000);
  if (run(['ip', 'link', 'show', COURSE_HOST_IF]).code === 0) run(['ip', 'link', 'del', COURSE_HOST_IF]);
  if (existsSync(NETNS_FILE)) runOrThrow(['ip', 'netns', 'del', COURSE_NETNS]);
}

/** Every process inside the course server's network namespace; empty when it does not exist. */
export function pidsOnCourse(): number[] {
  const r = run(['ip', 'netns', 'pids', COURSE_NETNS]);
  return r.code === 0 ? r.stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0) : [];
}

function assertAddressesFree(): void {
  const r = run(['ip', '-o', '-4', 'addr', 'show']);
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet (\d+\.\d+\.\d+\.\d+)\//.exec(line);
    if (m && m[1] !== COURSE_HOST_IF && (m[2] === COURSE_HOST_ADDRESS || m[2] === COURSE_ADDRESS)) {
      throw new HostRequirementError(`${m[2]} is already assigned to ${m[1]} on this host; the course server needs ${COURSE_HOST_ADDRESS} and ${COURSE_ADDRESS}`,
        `Free them (ip addr del ${m[2]} dev ${m[1]}) if that interface is not in use.`);
    }
  }
}
