/**
 * The course server's boot, as systemd would do it: the two units that bring a course server back —
 * `pm2-ubuntu.service` (what `pm2 startup` writes) and `caddy.service` (Caddy's package) — read from
 * their unit files and started the way their [Service] sections say. Used to simulate a reboot.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run, runOrThrow } from '../local/exec';
import { isAlive, sleep } from '../local/processes';
import { COURSE_ADDRESS, COURSE_PATHS, COURSE_USER, ON_SERVER } from './constants';
import { holderPid, onCourse, pidsOnCourse, SESSION_PATH } from './namespaces';
import { tcpOpen } from './probe';

/** The [Service] settings a start depends on. */
export interface UnitService {
  readonly user: string;
  /** @default - the user's primary group */
  readonly group: string | null;
  readonly environment: Readonly<Record<string, string>>;
  readonly execStart: readonly string[];
  /** Capability names without `CAP_`, lower case (setpriv's spelling). */
  readonly ambientCapabilities: readonly string[];
}

/**
 * A unit file's [Service] section (pure). Only what these two units use: one assignment per
 * Environment= line, and an ExecStart= without quotes (both units are written that way).
 * @throws Error naming the unit's line when ExecStart or User is missing or quoted
 */
export function parseUnit(text: string): UnitService {
  const service = text.split(/^\[Service\]\s*$/m)[1]?.split(/^\[/m)[0] ?? '';
  const settings = service.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith(';'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
  const one = (key: string) => settings.filter(([k]) => k === key).map(([, v]) => v).pop();
  const execStart = one('ExecStart');
  const user = one('User');
  if (!execStart || !user || /["']/.test(execStart)) throw new Error(`unit: ExecStart=${execStart ?? '(none)'} User=${user ?? '(none)'}: need both, ExecStart without quotes`);
  const environment = Object.fromEntries(settings.filter(([k]) => k === 'Environment').map(([, v]) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
  const caps = (one('AmbientCapabilities') ?? '').split(/\s+/).filter(Boolean).map((c) => c.replace(/^CAP_/i, '').toLowerCase());
  return { user, group: one('Group') ?? null, environment, execStart: execStart.split(/\s+/), ambientCapabilities: caps };
}

/** What `pm2 startup systemd -u <user> --hp <home>` puts in its template (pm2 lib/API/Startup.js). */
export interface Pm2StartupValues {
  /** `require.main.filename` of the pm2 that ran: its bin/pm2. */
  readonly pm2Path: string;
  /** The PATH pm2 startup ran with (it already contains Node's folder, so pm2 keeps it as it is). */
  readonly envPath: string;
  readonly user: string;
  readonly home: string;
}

/**
 * The unit `pm2 startup` writes (pure): pm2's own template (lib/templates/init-scripts/systemd.tpl,
 * read from the pm2 on the server) with its placeholders replaced as Startup.js replaces them
 * (%PM2_PATH%, %NODE_PATH%, %USER%, %HOME_PATH% = <home>/.pm2, %SERVICE_NAME% = pm2-<user>).
 */
export function pm2StartupUnit(template: string, v: Pm2StartupValues): string {
  return template.replace(/%PM2_PATH%/g, v.pm2Path).replace(/%NODE_PATH%/g, v.envPath).replace(/%USER%/g, v.user)
    .replace(/%HOME_PATH%/g, `${v.home}/.pm2`).replace(/%SERVICE_NAME%/g, `pm2-${v.user}`);
}

/**
 * The course's `pm2 startup`: it prints `sudo env PATH=$PATH:<node's bin> <pm2> startup systemd -u ubuntu
 * --hp /home/ubuntu`, which the student pastes from `bash -i` (nvm's bin first on that PATH). Written
 * where the server keeps it (COURSE_PATHS.pm2Unit) instead of /etc/systemd/system: the host's /etc.
 */
export function writePm2StartupUnit(node: 'nvm' | 'system'): void {
  const globalRoot = runOrThrow(['npm', 'root', '-g']).trim();
  const nodeBin = node === 'nvm' ? ON_SERVER.nodeBin : dirname(process.execPath);
  const pm2Path = node === 'nvm' ? ON_SERVER.pm2Path : join(globalRoot, 'pm2', 'bin', 'pm2');
  const interactive = node === 'nvm' ? `${nodeBin}:${SESSION_PATH}` : SESSION_PATH;
  const template = readFileSync(join(globalRoot, 'pm2', 'lib', 'templates', 'init-scripts', 'systemd.tpl'), 'utf8');
  mkdirSync(dirname(COURSE_PATHS.pm2Unit), { recursive: true });
  writeFileSync(COURSE_PATHS.pm2Unit, pm2StartupUnit(template, { pm2Path, envPath: `${interactive}:${nodeBin}`, user: COURSE_USER, home: ON_SERVER.home }));
}

/** Caddy's unit as its Debian/Ubuntu package installs it (the same file Caddy's apt repository ships). */
export const CADDY_UNIT = '/lib/systemd/system/caddy.service';

/**
 * A reboot of the course server: every process but its init and sshd's listener is killed (SIGKILL: nothing gets
 * to save or clean up, as at a power cut; pm2's stale pid and socket files stay in ~/.pm2), then the
 * two units start as systemd starts them: pm2-ubuntu's ExecStart (`pm2 resurrect`, which reads
 * ~/.pm2/dump.pm2) to its end (Type=forking), and Caddy's ExecStart from /etc/caddy/Caddyfile.
 * @throws Error with Caddy's log when Caddy does not answer on :80 within 15 s (as after a boot, nothing restarts it)
 */
export async function rebootCourse(log: (line: string) => void = () => {}): Promise<void> {
  await killAllButInit();
  log(`boot: ${COURSE_PATHS.pm2Unit} ExecStart`);
  const pm2 = parseUnit(readFileSync(COURSE_PATHS.pm2Unit, 'utf8'));
  runOrThrow(asUnit(pm2), { timeout: 60_000 });
  log(`boot: ${CADDY_UNIT} ExecStart`);
  await startCaddyUnit();
}

/** The server's init and sshd's listener (host pids; sshd's pid file holds its pid inside the server). Their sessions are not kept. */
function keptPids(): Set<number | undefined> {
  const cmdline = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
    } catch {
      return '';
    }
  };
  // The listener renames itself "sshd: /usr/sbin/sshd -f <config> [listener] …"; sessions are "sshd: ubuntu [priv]".
  return new Set([holderPid(), ...pidsOnCourse().filter((pid) => cmdline(pid).includes(`/usr/sbin/sshd -f ${COURSE_PATHS.sshdConfig}`))]);
}

async function killAllButInit(): Promise<void> {
  const keep = keptPids();
  for (let round = 0; round < 50; round++) {
    const left = pidsOnCourse().filter((pid) => !keep.has(pid) && isAlive(pid));
    if (left.length === 0) return;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    await sleep(100);
  }
  throw new Error(`reboot: processes still running on the course server after SIGKILL: ${pidsOnCourse().join(', ')}`);
}

/** A user's home and shell from the server's user database (systemd sets HOME, USER, LOGNAME, SHELL for User=). */
function account(user: string): { home: string; shell: string } {
  const line = readFileSync(join(COURSE_PATHS.etc, 'passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`reboot: no user "${user}" on the course server`);
  const f = line.split(':');
  return { home: f[5], shell: f[6] };
}

/** The PATH systemd gives a service that sets none. */
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The argv prefix that runs a command on the server (inside its namespaces) as a unit's process runs:
 * as User=/Group= with the user's groups, the unit's ambient capabilities, and only the environment
 * systemd gives (HOME, USER, LOGNAME, SHELL, PATH, the unit's Environment=), then `env`'s.
 */
export function asUnitUser(unit: UnitService, env: Readonly<Record<string, string>> = {}): string[] {
  const { home, shell } = account(unit.user);
  const caps = unit.ambientCapabilities.map((c) => `+${c}`).join(',');
  const vars = { HOME: home, USER: unit.user, LOGNAME: unit.user, SHELL: shell, PATH: SYSTEMD_PATH, ...unit.environment, ...env };
  return ['setpriv', `--reuid=${unit.user}`, `--regid=${unit.group ?? unit.user}`, '--init-groups',
    ...(caps ? [`--inh-caps=${caps}`, `--ambient-caps=${caps}`] : []), '--', 'env', '-i', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
}

function asUnit(unit: UnitService, env: Readonly<Record<string, string>> = {}): string[] {
  return onCourse([...asUnitUser(unit, env), ...unit.execStart]);
}

/**
 * caddy.service as the server has it, its storage made its user's. One difference from a real server:
 * Caddy's storage stays in the fixture's own folder (CADDY_STORAGE_ENV), never the host's /var/lib/caddy.
 * @throws Error with the fix when the unit file is missing
 */
export function caddyServiceUnit(): UnitService {
  if (!existsSync(CADDY_UNIT)) throw new Error(`the course server: ${CADDY_UNIT} is missing; install Caddy from its package (apt-get install caddy)`);
  const unit = parseUnit(readFileSync(CADDY_UNIT, 'utf8'));
  runOrThrow(['chown', '-R', `${unit.user}:${unit.group ?? unit.user}`, COURSE_PATHS.caddyData]);
  return unit;
}

/** Where the course server's Caddy keeps its data and autosaved config (see caddyServiceUnit). */
export const CADDY_STORAGE_ENV: Readonly<Record<string, string>> = { HOME: COURSE_PATHS.caddyData, XDG_DATA_HOME: COURSE_PATHS.caddyData, XDG_CONFIG_HOME: COURSE_PATHS.caddyData };

/** caddy.service's ExecStart as its User=, not restarted if it fails (the unit has no Restart=). */
async function startCaddyUnit(): Promise<void> {
  const unit = caddyServiceUnit();
  const logFile = join(COURSE_PATHS.logDir, 'caddy-boot.log');
  const fd = openSync(logFile, 'a');
  try {
    const argv = asUnit(unit, CADDY_STORAGE_ENV);
    spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] }).unref();
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + 15_000;
  while (!(await tcpOpen(COURSE_ADDRESS, 80))) {
    if (Date.now() > deadline) throw new Error(`reboot: Caddy did not start from /etc/caddy/Caddyfile as caddy.service (User=${unit.user}):\n${tail(logFile)}`);
    await sleep(100);
  }
}

function tail(file: string): string {
  return run(['tail', '-n', '8', file]).stdout;
}
