/**
 * The course-shaped server for adopt's e2e tests (lib/targets/course): built from nothing per
 * variant, separate from the shared stand-in (no e2e lock needed), and a way to run the real CLI
 * against it with a Portside home of the test's own in which the server's host key is pinned.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepersDir } from '../../lib/ssh/keeper/identity';
import { pinHost } from '../../lib/ssh/known-hosts';
import { COURSE_PATHS, CourseNode, courseDown, courseUp, CourseServer, CourseVariant, coursePm2, hostPathOf, lockCourse, ON_SERVER, unlockCourse } from '../../lib/targets/course';
import { PACKAGE_ROOT } from '../../lib/package-root';

export type { CourseServer } from '../../lib/targets/course';
export { courseDown, coursePm2, hostPathOf, lockCourse, startCaddy, stopCaddy, unlockCourse, ON_SERVER } from '../../lib/targets/course';

/** Why the course server cannot be built here, or '' when it can. */
export function courseServerUnavailable(): string {
  if (process.platform !== 'linux') return `the course server needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'the course server needs root (namespaces, sshd, a user)';
  return '';
}

/** Build the server as `variant` and pin its host key in `home`'s known_hosts (as a first `ssh` would, after checking the fingerprint). */
export async function courseServer(variant: CourseVariant, home: string, node: CourseNode = 'nvm'): Promise<CourseServer> {
  const server = await courseUp({ variant, node, log: (line) => process.stderr.write(`[course server] ${line}\n`) });
  const [keyType, base64] = server.hostKeyLine.split(' ');
  await pinHost(join(home, 'known_hosts'), server.address, server.sshPort, keyType, Buffer.from(base64, 'base64'));
  return server;
}

/**
 * Hold the course server for this test file (its lock keeps two files from rebuilding it under each
 * other) and take it down after the file's last test. Call at the top level of a test file.
 */
export function useCourseServer(): void {
  const why = courseServerUnavailable();
  let held = false;
  // The wait has its own timeout (lockCourse's own, 600 s, plus margin): a file's shorter jest timeout would end
  // the hook while another file holds the server, and its afterAll would then take that file's server down.
  beforeAll(async () => {
    if (why) return;
    await lockCourse((line) => process.stderr.write(`${line}\n`));
    held = true;
  }, 660_000);
  afterAll(async () => {
    if (why || !held) return;
    try {
      await courseDown({ log: () => {} });
    } finally {
      unlockCourse();
    }
  });
}

/**
 * The homes newHome made, removed after the test file's last test. A home with a keepers folder is left
 * in place: with PORTSIDE_TEST_SSH_PERSIST set, a kept connection (lib/ssh/keeper) may still run in it.
 */
const homes: string[] = [];
if (typeof afterAll === 'function') {
  afterAll(() => {
    for (const home of homes.splice(0)) if (!existsSync(keepersDir(home))) rmSync(home, { recursive: true, force: true });
  });
}

export function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'portside-adopt-home-'));
  homes.push(home);
  return home;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The real CLI as a user runs it (`node bin/portside.js …`), in its own process. */
export function portside(home: string, ...args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORTSIDE_HOME: home };
  delete env.PORTSIDE_KEY;
  delete env.PORTSIDE_TARGET;
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PACKAGE_ROOT, 'bin', 'portside.js'), ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/**
 * What adopt must never change: the Caddyfile's bytes, pm2's processes (names and pids), and every
 * file under ~/services and the static root (path, type, size, mode, mtime).
 */
export function serverState(): { caddyfileSha256: string; pm2: string[]; files: string[] } {
  const caddyfile = readFileSync(hostPathOf(ON_SERVER.caddyfile));
  // `pm2 jlist` would start a daemon when none runs (`pm2 kill` removes the pid file): never ask then.
  const running = existsSync(hostPathOf(`${ON_SERVER.home}/.pm2/pm2.pid`));
  const list = running ? JSON.parse(coursePm2('jlist').split('\n').reverse().find((l) => l.startsWith('[{') || l === '[]') ?? '[]') as Array<{ name: string; pid: number }> : [];
  return {
    caddyfileSha256: createHash('sha256').update(caddyfile).digest('hex'),
    pm2: list.map((p) => `${p.name} ${p.pid}`),
    files: [...walk(hostPathOf(`${ON_SERVER.home}/services`)), ...walk(COURSE_PATHS.shareCaddy)],
  };
}

function walk(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    const st = lstatSync(path);
    const line = `${path} ${st.isDirectory() ? 'd' : 'f'} ${st.size} ${st.mode.toString(8)} ${st.mtimeMs}`;
    return st.isDirectory() ? [line, ...walk(path)] : [line];
  });
}

export { courseUp };
