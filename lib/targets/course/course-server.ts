import { spawn } from 'node:child_process';
import { chmodSync, closeSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sshFingerprint } from '../local/local-server';
import { run, runOrThrow } from '../local/exec';
import { isAlive, pidsOfUid, sleep, terminate } from '../local/processes';
import { tcpOpen } from './probe';
import {
  COURSE_ADDRESS, COURSE_DOMAIN, COURSE_PATHS, COURSE_SSH_PORT, COURSE_STATE_DIR, COURSE_UID, COURSE_USER, NODE_VERSION_DIR, ON_SERVER,
} from './constants';
import { BASHRC, courseShape, CourseShape, courseSshdConfig, CourseVariant, NVM_DEFAULT_ALIAS, NVM_SH, SERVICE_SOURCE, servicePackageJson, userDatabase } from './layout';
import { asUbuntu, createNamespaces, holderPid, onCourse, pidsOnCourse, removeNamespaces } from './namespaces';
import { asUnitUser, CADDY_STORAGE_ENV, caddyServiceUnit, writePm2StartupUnit } from './reboot';
import { toShellLine } from '../../ssh/quote';

/** How to reach the course server, and what is on it. */
export interface CourseServer {
  readonly address: string;
  readonly sshPort: number;
  readonly user: string;
  /** The client key authorised for `ubuntu`. */
  readonly keyPath: string;
  /** `SHA256:…` of the host key, for checking what the client pinned. */
  readonly hostKeyFingerprint: string;
  /** The host key's public line (`ssh-ed25519 AAAA…`), to pin before the first connection. */
  readonly hostKeyLine: string;
  readonly domain: string;
  readonly shape: CourseShape;
}

export interface CourseUpOptions {
  /** @default 'course' */
  readonly variant?: CourseVariant;
  /**
   * Where Node comes from: `nvm` (the course: ~/.nvm, not on a non-interactive PATH, the system's
   * node, npm and pm2 hidden) or `system` (this machine's /usr/bin/node and global pm2, on the PATH).
   * @default 'nvm'
   */
  readonly node?: CourseNode;
  /** @default - write to stderr */
  readonly log?: (line: string) => void;
}

export type CourseNode = 'nvm' | 'system';

/**
 * Where a path on the course server lives on the host (its /home, /etc/caddy, /usr/share/caddy are bound
 * from the state dir). A folder on the way that is a link is followed as the server would follow it (an
 * absolute target means the server's path, e.g. ~/.portside/caddy -> /usr/share/caddy/…); the last
 * component is not, so a link itself can still be lstat'ed.
 */
export function hostPathOf(serverPath: string): string {
  let path = serverPath;
  for (let hops = 0; hops < 40; hops++) {
    const parts = path.split('/');
    const link = parts.slice(0, -1).findIndex((_, i) => i > 0 && isLink(parts.slice(0, i + 1).join('/')));
    if (link < 0) return mapToHost(path);
    const target = readlinkSync(mapToHost(parts.slice(0, link + 1).join('/')));
    const rest = parts.slice(link + 1).join('/');
    path = target.startsWith('/') ? `${target}/${rest}` : `${parts.slice(0, link).join('/')}/${target}/${rest}`;
  }
  throw new Error(`${serverPath}: too many links on the way`);
}

function mapToHost(serverPath: string): string {
  for (const [inside, outside] of [['/home/', `${COURSE_PATHS.home}/`], ['/etc/caddy/', `${COURSE_PATHS.etcCaddy}/`], [`${ON_SERVER.staticRoot}/`, `${COURSE_PATHS.shareCaddy}/`]]) {
    if (serverPath.startsWith(inside)) return outside + serverPath.slice(inside.length);
  }
  if (`${serverPath}/` === '/home/' || serverPath === ON_SERVER.staticRoot || serverPath === '/etc/caddy') return mapToHost(`${serverPath}/`).replace(/\/$/, '');
  throw new Error(`${serverPath} is not in a folder the course server keeps in ${COURSE_STATE_DIR}`);
}

/** Whether a folder on the way is a link on the server (a folder outside the bound ones, like /usr, is not looked at). */
function isLink(serverPath: string): boolean {
  try {
    return lstatSync(mapToHost(serverPath)).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Build the course server from nothing (taking down any earlier one first), so its state is exactly
 * `variant` whatever ran before. A few seconds: namespaces, the user, Node as nvm lays it out, sshd,
 * Caddy under its own supervisor loop, and the services started by hand with pm2.
 */
export async function courseUp(opts: CourseUpOptions = {}): Promise<CourseServer> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const shape = courseShape(opts.variant ?? 'course');
  await courseDown({ log: () => {} });
  assertUidFree();
  for (const dir of [COURSE_STATE_DIR, COURSE_PATHS.etc, COURSE_PATHS.etcCaddy, COURSE_PATHS.shareCaddy, COURSE_PATHS.home, COURSE_PATHS.emptyDir,
    COURSE_PATHS.sshdDir, dirname(COURSE_PATHS.clientKey), COURSE_PATHS.caddyData, COURSE_PATHS.logDir]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeUserDatabase();
  const node = opts.node ?? 'nvm';
  layOutHome(shape, node);
  await createNamespaces(node === 'nvm', log);
  await startSshd(log);
  await startCaddy(log);
  startServices(shape, log);
  // `pm2 startup` after `pm2 save`, as the course has students do: the unit a reboot starts (reboot.ts).
  writePm2StartupUnit(node);
  const hostKeyLine = readFileSync(`${COURSE_PATHS.hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  log(`course server (${shape.variant}) is up: ssh -i ${COURSE_PATHS.clientKey} ${COURSE_USER}@${COURSE_ADDRESS}`);
  return {
    address: COURSE_ADDRESS, sshPort: COURSE_SSH_PORT, user: COURSE_USER, keyPath: COURSE_PATHS.clientKey,
    hostKeyFingerprint: sshFingerprint(hostKeyLine), hostKeyLine, domain: COURSE_DOMAIN, shape,
  };
}

/** Stop everything the course server runs and remove every trace of it from the host. Idempotent. */
export async function courseDown(opts: { log?: (line: string) => void } = {}): Promise<void> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const pids = [...new Set([...pidsOnCourse(), ...pidsOfUid(COURSE_UID)])].filter((pid) => pid !== process.pid);
  if (pids.length) log(`stopping the course server (${pids.length} process(es))`);
  await removeNamespaces();
  await terminate(pids.filter(isAlive));
  rmSync(COURSE_STATE_DIR, { recursive: true, force: true });
}

function assertUidFree(): void {
  const owner = run(['getent', 'passwd', String(COURSE_UID)]).stdout.trim();
  if (owner) throw new Error(`uid ${COURSE_UID} belongs to "${owner.split(':')[0]}" on this host; the course server's ubuntu user needs it (lib/targets/course/constants.ts)`);
}

function writeUserDatabase(): void {
  const db = userDatabase({ passwd: readFileSync('/etc/passwd', 'utf8'), group: readFileSync('/etc/group', 'utf8'), shadow: readFileSync('/etc/shadow', 'utf8') });
  writeFileSync(join(COURSE_PATHS.etc, 'passwd'), db.passwd, { mode: 0o644 });
  writeFileSync(join(COURSE_PATHS.etc, 'group'), db.group, { mode: 0o644 });
  writeFileSync(join(COURSE_PATHS.etc, 'shadow'), db.shadow, { mode: 0o640 });
}

/** Make a file or folder in ubuntu's world (host path), owned by ubuntu. Never used on hard links to host files. */
function own(path: string, content?: string, mode = 0o644): void {
  if (content === undefined) mkdirSync(path, { recursive: true, mode: 0o755 });
  else writeFileSync(path, content, { mode });
  lchownSync(path, COURSE_UID, COURSE_UID);
}

function ownLink(target: string, path: string): void {
  symlinkSync(target, path);
  lchownSync(path, COURSE_UID, COURSE_UID);
}

/**
 * ubuntu's home as the course leaves it, and the server files the course chowns to ubuntu.
 */
function layOutHome(shape: CourseShape, node: CourseNode): void {
  const home = hostPathOf(`${ON_SERVER.home}/`);
  own(home);
  chmodSync(home, 0o750);
  own(join(home, '.ssh'));
  chmodSync(join(home, '.ssh'), 0o700);
  runOrThrow(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'portside course server client key', '-f', COURSE_PATHS.clientKey]);
  own(join(home, '.ssh', 'authorized_keys'), readFileSync(`${COURSE_PATHS.clientKey}.pub`, 'utf8'), 0o600);
  own(join(home, '.bashrc'), BASHRC);
  if (node === 'nvm') layOutNvm(home);
  own(join(home, 'services'));
  for (const s of shape.services) {
    own(join(home, 'services', s.name));
    own(join(home, 'services', s.name, 'index.js'), SERVICE_SOURCE);
    own(join(home, 'services', s.name, 'package.json'), servicePackageJson(s.name));
  }
  own(join(COURSE_PATHS.shareCaddy, 'index.html'), '<!doctype html><title>My startup</title><h1>Hello from the course server</h1>\n');
  lchownSync(COURSE_PATHS.shareCaddy, COURSE_UID, COURSE_UID);
  ownLink(ON_SERVER.staticRoot, join(home, 'public_html'));
  own(join(COURSE_PATHS.etcCaddy, 'Caddyfile'), shape.caddyfile);
  ownLink(ON_SERVER.caddyfile, join(home, 'Caddyfile'));
}

/**
 * ~/.nvm as nvm lays it out: Node is a hard link to this machine's binary (no copy of ~100 MB), npm
 * and pm2 hard-linked trees as a global install under nvm's Node makes them; none of these links is
 * chowned (that would chown the host's files).
 */
function layOutNvm(home: string): void {
  const nvm = join(home, '.nvm');
  for (const dir of [nvm, join(nvm, 'alias'), join(nvm, 'versions'), join(nvm, 'versions', 'node')]) own(dir);
  own(join(nvm, 'nvm.sh'), NVM_SH);
  own(join(nvm, 'alias', 'default'), NVM_DEFAULT_ALIAS);
  const version = join(nvm, 'versions', 'node', NODE_VERSION_DIR);
  for (const dir of [version, join(version, 'bin'), join(version, 'lib'), join(version, 'lib', 'node_modules')]) own(dir);
  linkOrCopy(process.execPath, join(version, 'bin', 'node'));
  const globalRoot = runOrThrow(['npm', 'root', '-g']).trim();
  for (const pkg of ['npm', 'pm2']) runOrThrow(['cp', '-al', join(globalRoot, pkg), join(version, 'lib', 'node_modules', pkg)]);
  ownLink('../lib/node_modules/npm/bin/npm-cli.js', join(version, 'bin', 'npm'));
  ownLink('../lib/node_modules/pm2/bin/pm2', join(version, 'bin', 'pm2'));
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    runOrThrow(['cp', from, to]);
  }
}

async function waitFor(what: string, ok: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`the course server: ${what} did not happen within ${ms} ms; see ${COURSE_PATHS.logDir}`);
    await sleep(50);
  }
}

async function startSshd(log: (line: string) => void): Promise<void> {
  runOrThrow(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'portside course server host key', '-f', COURSE_PATHS.hostKey]);
  writeFileSync(COURSE_PATHS.sshdConfig, courseSshdConfig({ listenAddress: COURSE_ADDRESS, port: COURSE_SSH_PORT, hostKey: COURSE_PATHS.hostKey, pidFile: COURSE_PATHS.sshdPid }), { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  runOrThrow(onCourse(['/usr/sbin/sshd', '-t', '-f', COURSE_PATHS.sshdConfig]));
  log(`starting sshd on ${COURSE_ADDRESS}:${COURSE_SSH_PORT}`);
  runOrThrow(onCourse(['/usr/sbin/sshd', '-f', COURSE_PATHS.sshdConfig, '-E', join(COURSE_PATHS.logDir, 'sshd.log')]));
  await waitFor('sshd listening', () => tcpOpen(COURSE_ADDRESS, COURSE_SSH_PORT), 5000);
}

/** Caddy's command line as the course server's supervisor loop runs it (caddy.service's ExecStart, adapter named). */
const CADDY_RUN = `caddy run --environ --config ${ON_SERVER.caddyfile} --adapter caddyfile`;

/**
 * Caddy as a course server runs it: as caddy.service does (its User=caddy and ambient
 * CAP_NET_BIND_SERVICE, read from the unit file: a home closed to that user stays closed to Caddy), and
 * restarted by a supervisor loop when it exits. The loop's shell itself runs as root.
 */
export async function startCaddy(log: (line: string) => void = () => {}): Promise<void> {
  const unit = caddyServiceUnit();
  log(`starting Caddy as ${unit.user} under its supervisor (${CADDY_RUN})`);
  const fd = openSync(join(COURSE_PATHS.logDir, 'caddy.log'), 'a');
  try {
    const argv = onCourse(['sh', '-c', `while :; do ${toShellLine(asUnitUser(unit, CADDY_STORAGE_ENV))} ${CADDY_RUN}; sleep 1; done`]);
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    child.unref();
  } finally {
    closeSync(fd);
  }
  await waitFor('Caddy answering on :80', () => tcpOpen(COURSE_ADDRESS, 80), 15000);
}

/** Stop Caddy and its supervisor loop (for the "Caddy is not running" case). */
export async function stopCaddy(): Promise<void> {
  const cmdline = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
    } catch {
      return '';
    }
  };
  const supervisors = pidsOnCourse().filter((pid) => cmdline(pid).startsWith('sh -c while :; do ') && cmdline(pid).includes(CADDY_RUN));
  await terminate(supervisors);
  // `caddy run` from the supervisor's loop, `/usr/bin/caddy run` as caddy.service starts it (reboot.ts).
  await terminate(pidsOnCourse().filter((pid) => /^(\/usr\/bin\/)?caddy run /.test(cmdline(pid))));
}

/** Each service started once by hand, as the course says: `cd ~/services/<name> && pm2 start index.js -n <name> -- <port> <name>`, then `pm2 save`. */
function startServices(shape: CourseShape, log: (line: string) => void): void {
  for (const s of shape.services) {
    const bind = s.bind === '0.0.0.0' ? ' 0.0.0.0' : '';
    log(`pm2 start ${s.name} on ${s.bind}:${s.port} (bash -i, as the course does)`);
    // Fixture constants only (no user input) reach this shell line.
    runOrThrow(asUbuntu(['bash', '-i', '-c', `cd ~/services/${s.name} && pm2 start index.js -n ${s.name} -- ${s.port} ${s.name}${bind}`]), { timeout: 60_000 });
  }
  runOrThrow(asUbuntu(['bash', '-i', '-c', 'pm2 save']), { timeout: 30_000 });
}

/** Run a pm2 command as ubuntu the way the course does (`bash -i`, so nvm's Node is on PATH). */
export function coursePm2(args: string): string {
  return runOrThrow(asUbuntu(['bash', '-i', '-c', `pm2 ${args}`]), { timeout: 30_000 });
}

/** True while the course server's namespace exists. */
export function courseIsUp(): boolean {
  return holderPid() !== undefined;
}
