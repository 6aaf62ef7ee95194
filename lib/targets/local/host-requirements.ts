import { accessSync, constants, openSync, closeSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { run, runOrThrow } from './exec';

/** The host cannot run the stand-in as it is; the message says what to do. */
export class HostRequirementError extends Error {
  constructor(message: string, public readonly detail?: string) {
    super(message);
    this.name = 'HostRequirementError';
  }
}

/** Debian packages the stand-in runs; `local up` installs the missing ones with apt. */
export const APT_PACKAGES = { sshd: 'openssh-server', caddy: 'caddy', curl: 'curl', sudo: 'sudo' } as const;
export const PM2_PACKAGE = 'pm2@7';

/** The first executable called `name` on PATH (plus sbin dirs, which a non-login root shell may lack). */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Linux, root, iproute2: what nothing can be done without. Throws a HostRequirementError otherwise. */
export function assertHostCanRunStandIn(): void {
  if (process.platform !== 'linux') {
    throw new HostRequirementError(`the local server needs Linux network namespaces; this is ${process.platform}`,
      'Run it on a Debian/Ubuntu machine or VM (root), or deploy to AWS instead.');
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new HostRequirementError('the local server creates a network namespace, a user and daemons: run it as root',
      'e.g. sudo npx portside local up');
  }
  if (!which('ip')) throw new HostRequirementError('`ip` (iproute2) is not installed', 'Install it: apt-get install -y iproute2');
  for (const tool of ['runuser', 'useradd', 'userdel', 'bash']) {
    if (!which(tool)) throw new HostRequirementError(`\`${tool}\` is not installed`, 'Install it: apt-get install -y util-linux passwd bash');
  }
}

/** Install openssh-server, caddy and curl with apt when missing (non-interactive). Resolves to what was installed. */
export function ensureAptPackages(log: (line: string) => void, logFile: string): string[] {
  const missing = [
    ...(which('sshd') && which('ssh-keygen') ? [] : [APT_PACKAGES.sshd]),
    ...(which('caddy') ? [] : [APT_PACKAGES.caddy]),
    // assets/bootstrap.sh waits for Caddy with curl.
    ...(which('curl') ? [] : [APT_PACKAGES.curl]),
    // Allowed install scripts run as the build user through sudo; the bootstrap checks its rule with visudo.
    ...(which('sudo') && which('visudo') ? [] : [APT_PACKAGES.sudo]),
  ];
  if (missing.length === 0) return [];
  if (!which('apt-get')) {
    throw new HostRequirementError(`missing ${missing.join(', ')} and there is no apt-get to install them`,
      `Install them with your package manager (Debian names: ${missing.join(' ')}).`);
  }
  log(`installing ${missing.join(' ')} with apt-get (log: ${logFile})`);
  const fd = openSync(logFile, 'a');
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const argv of [['apt-get', 'update'], ['apt-get', 'install', '-y', '--no-install-recommends', ...missing]]) {
      const r = run(argv, { env, stdio: ['ignore', fd, fd] });
      if (r.code !== 0) throw new HostRequirementError(`\`${argv.join(' ')}\` failed (exit ${r.code}); see ${logFile}`);
    }
  } finally {
    closeSync(fd);
  }
  return missing;
}

export interface NpmHostConfig {
  /** The registry npm on the host uses. */
  readonly registry: string;
  /** Where global packages go (their executables are in `<prefix>/bin`). */
  readonly prefix: string;
}

/** The host npm's registry and global prefix, in one npm start (~0.3 s). */
export function npmHostConfig(): NpmHostConfig {
  const out = runOrThrow(['npm', 'config', 'get', 'registry', 'prefix']);
  const value = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(out)?.[1]?.trim();
  return { registry: value('registry') || 'https://registry.npmjs.org/', prefix: value('prefix') || '/usr/local' };
}

/** Install pm2 globally with npm when it is not there. Resolves to pm2's path. */
export function ensurePm2(npm: NpmHostConfig, log: (line: string) => void, logFile: string): string {
  const bin = join(npm.prefix, 'bin');
  const existing = which('pm2', bin);
  if (existing) return existing;
  log(`installing ${PM2_PACKAGE} globally with npm (log: ${logFile})`);
  const fd = openSync(logFile, 'a');
  try {
    const r = run(['npm', 'install', '-g', PM2_PACKAGE], { stdio: ['ignore', fd, fd] });
    if (r.code !== 0) throw new HostRequirementError(`\`npm install -g ${PM2_PACKAGE}\` failed (exit ${r.code}); see ${logFile}`);
  } finally {
    closeSync(fd);
  }
  const installed = which('pm2', bin);
  if (!installed) throw new HostRequirementError(`pm2 is not in ${bin} after \`npm install -g ${PM2_PACKAGE}\``);
  return installed;
}

/**
 * The PATH a non-interactive SSH session of the deploy user gets: the folders holding node, npm and
 * pm2 first, then the usual system folders. sshd sets it with SetEnv.
 */
export function serverPath(pm2Path: string): string {
  const npm = which('npm');
  const dirs = [dirname(process.execPath), ...(npm ? [dirname(npm)] : []), dirname(pm2Path),
    '/usr/local/bin', '/usr/bin', '/bin'];
  return [...new Set(dirs)].join(':');
}
