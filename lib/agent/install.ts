// A release's dependencies. Install scripts are off (`--ignore-scripts`): a package's `postinstall` runs
// as the deploy user otherwise, and one `rm -rf ~` took ~/.ssh, the registry, ~/.pm2 and every release.
// Scripts the service allows (package.json "allowScripts") run as BUILD_USER, a separate account made by
// the bootstrap, which cannot enter the deploy user's home or write the Caddyfile's folder: it installs
// into a scratch folder of its own, and the deploy user copies node_modules out of it.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RELEASE_ENV_FILE } from '../remote/layout';
import * as policy from './install-policy';
import { AgentError, note } from './protocol-io';
import { run, tail } from './run';

/** The account allowed install scripts run as (the bootstrap creates it and its sudo rule). */
export const BUILD_USER = 'portside-build';
/** Written into node_modules when allowed scripts ran: a reused node_modules must have been built the same way. */
const STAMP = '.portside-scripts.json';
// A t3.micro has 1 GiB: no audit, no fund, no dev dependencies.
const FLAGS = ['--omit=dev', '--no-audit', '--no-fund', '--loglevel=error', '--ignore-scripts'];
// With a lockfile every package is pinned by version and integrity, so a tarball npm has cached is the
// one the lockfile names: --prefer-offline takes it without asking the registry first (measured on the
// stand-in, the course app's back end: npm ci 3.4–4.5 s → 2.0–2.7 s with a warm cache). Only for `npm ci`:
// without a lockfile, cached metadata could resolve a range to an older version than the registry's.
const CI_FLAGS = [...FLAGS, '--prefer-offline'];
/** The deploy user's ~/.npmrc, as it travels in the tar to BUILD_USER. */
const USER_NPMRC = '.portside-user-npmrc';

// Runs as BUILD_USER. Fixed text: the folder, the root scripts and the rebuild entries arrive as positional
// parameters. The deploy user's ~/.npmrc (registry, proxy, tokens) comes in the tar as USER_NPMRC.
const BUILD_SCRIPT = `set -e
umask 022
d=$1; root=$2; shift 2
cd "$d"
tar -x -f - --no-same-owner
[ -f ${USER_NPMRC} ] && export NPM_CONFIG_USERCONFIG="$d/${USER_NPMRC}"
if [ -f package-lock.json ]; then npm ci ${CI_FLAGS.join(' ')}; else npm install --no-package-lock ${FLAGS.join(' ')}; fi
if [ $# -gt 0 ]; then npm rebuild --foreground-scripts "$@"; fi
for s in $root; do npm run --ignore-scripts --foreground-scripts "$s"; done`;

/** An error from a program run (lib/agent/run.ts RunError, or a spawn failure): what the catch blocks read. */
interface Failure {
  readonly message: string;
  readonly code?: unknown;
  readonly stdout?: string;
  readonly stderr?: string;
}

/** Install the release's dependencies in `dir`; allowed install scripts run as BUILD_USER, no others run. */
export async function install(dir: string, lockfileChanged: boolean): Promise<void> {
  const pkgFile = path.join(dir, 'package.json');
  if (!fs.existsSync(pkgFile)) return;
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as policy.PackageJson;
  if (!pkg.dependencies || Object.keys(pkg.dependencies).length === 0) return;
  const lockFile = path.join(dir, 'package-lock.json');
  const lock = fs.existsSync(lockFile) ? (JSON.parse(fs.readFileSync(lockFile, 'utf8')) as policy.PackageLock) : null;
  const plan = planOrRefuse(pkg, lock);
  const runs = plan.rebuild.length > 0 || plan.root.length > 0;
  // The project's own scripts by their text: a changed postinstall must run again.
  const stamp = runs ? JSON.stringify({ rebuild: plan.rebuild, root: plan.root.map((n) => [n, pkg.scripts?.[n]]) }) : null;
  if (!lockfileChanged && reuseModules(dir, stamp)) return;
  if (runs) await installAsBuildUser(dir, plan, lock, stamp as string);
  else if (lock) await run('npm', ['ci', ...CI_FLAGS], { cwd: dir, echo: true });
  else await run('npm', ['install', '--no-package-lock', ...FLAGS], { cwd: dir, echo: true });
  // Without a lockfile, npm's hidden lockfile says which installed packages have scripts.
  const skipped = lock ? plan.skipped : policy.planScripts(pkg, readJson(path.join(dir, 'node_modules', '.package-lock.json'))).skipped;
  const text = policy.skippedNote(skipped, BUILD_USER);
  if (text) note(text);
}

function planOrRefuse(pkg: policy.PackageJson, lock: policy.PackageLock | null): policy.ScriptPlan {
  try {
    return policy.planScripts(pkg, lock);
  } catch (e) {
    if (e instanceof policy.PolicyError) throw new AgentError(e.message, undefined, 'BAD_ALLOW_SCRIPTS');
    throw e;
  }
}

/**
 * Whether the previous release's node_modules (linked into this one) can stay: only when it was built
 * the same way (the same stamp). Otherwise it is removed, so the install never writes through the links.
 */
function reuseModules(dir: string, stamp: string | null): boolean {
  const modules = path.join(dir, 'node_modules');
  if (!fs.existsSync(modules)) return false;
  // node_modules from before this stamp existed were built with every script run: fine to reuse unless scripts are now allowed.
  if (readOr(path.join(modules, STAMP)) === stamp) {
    note('dependencies unchanged: reusing the previous release\'s node_modules');
    return true;
  }
  // Linked to the previous release's files (cp -al): remove, never write through.
  fs.rmSync(modules, { recursive: true, force: true });
  return false;
}

const sudo = (args: readonly string[]): string[] => ['-n', '-H', '-u', BUILD_USER, '--', 'env', `PATH=${process.env.PATH}`, ...args];

function allowedLabel(plan: policy.ScriptPlan): string {
  return [...plan.rebuild, ...(plan.root.length ? [`its own ${plan.root.join(', ')}`] : [])].join(', ');
}

/** A scratch folder owned by BUILD_USER; refuses with the fix when the build user or its sudo rule is missing. */
async function makeScratch(plan: policy.ScriptPlan): Promise<string> {
  try {
    // cwd "/": sudo keeps the caller's folder, which BUILD_USER may not enter.
    const made = await run('sudo', sudo(['sh', '-c', 'd=$(mktemp -d "${TMPDIR:-/tmp}/portside-install.XXXXXX") && chmod 755 "$d" && echo "$d"']), { cwd: '/' });
    return made.stdout.trim();
  } catch (err) {
    const e = err as Failure;
    const me = os.userInfo().username;
    throw new AgentError(`install scripts are allowed for ${allowedLabel(plan)}, but they run only as the separate user "${BUILD_USER}", and \`sudo -n -u ${BUILD_USER}\` failed as ${me}: ${tail(e.stderr || e.message, 2)}. Nothing ran as ${me}; nothing was switched.`,
      'Run the server\'s bootstrap again (EC2: sudo /usr/local/sbin/portside-bootstrap needs the same PORTSIDE_* settings; local: portside local up) to create the build user and its sudo rule, or remove those entries from "allowScripts".', 'NO_BUILD_USER');
  }
}

async function installAsBuildUser(dir: string, plan: policy.ScriptPlan, lock: policy.PackageLock | null, stamp: string): Promise<void> {
  const scratch = await makeScratch(plan);
  try {
    // Everything but node_modules and the secrets (the env file), plus the deploy user's npm settings.
    const npmrc = path.join(os.homedir(), '.npmrc');
    const tarArgs = ['-c', '-f', '-', '-C', dir, '--exclude=./node_modules', `--exclude=./${RELEASE_ENV_FILE}`, '.'];
    // Only the member named exactly ".npmrc" (the home's; the project's is "./.npmrc") is renamed.
    if (fs.existsSync(npmrc)) tarArgs.push('-C', os.homedir(), `--transform=s,^\\.npmrc$,${USER_NPMRC},`, '.npmrc');
    const tar = spawn('tar', tarArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    await run('sudo', sudo(['sh', '-c', BUILD_SCRIPT, 'sh', scratch, plan.root.join(' '), ...plan.rebuild]), { cwd: '/', echo: true, input: tar.stdout });
    await copyOut(scratch, dir, lock);
    fs.writeFileSync(path.join(dir, 'node_modules', STAMP), stamp);
    note(`install scripts ran as "${BUILD_USER}" for: ${allowedLabel(plan)}`);
  } catch (err) {
    if (err instanceof AgentError) throw err;
    const e = err as Failure;
    const what = e.code !== undefined ? `exit ${e.code}` : e.message;
    throw new AgentError(`installing as "${BUILD_USER}" with the allowed install scripts (${allowedLabel(plan)}) failed (${what})`, tail(e.stderr || e.stdout || e.message, 10), 'INSTALL');
  } finally {
    await run('sudo', sudo(['rm', '-rf', '--', scratch]), { cwd: '/', allowFail: true });
  }
}

/** node_modules, and each `file:` folder dependency inside the service (its build output lives there). */
async function copyOut(scratch: string, dir: string, lock: policy.PackageLock | null): Promise<void> {
  const linked = Object.values((lock && lock.packages) || {})
    .filter((p): p is policy.LockEntry & { resolved: string } => !!p && !!p.link && typeof p.resolved === 'string' && !path.isAbsolute(p.resolved) && !p.resolved.split('/').includes('..'))
    .map((p) => p.resolved);
  for (const rel of ['node_modules', ...new Set(linked)]) {
    const from = path.join(scratch, rel);
    if (!fs.existsSync(from)) continue;
    // The release's copy may be hard-linked to older releases: remove it, never write through it.
    fs.rmSync(path.join(dir, rel), { recursive: true, force: true });
    // cp -R copies symbolic links as links and writes only below the release.
    await run('cp', ['-R', '--', from, path.join(dir, rel)]);
  }
}

function readOr(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function readJson(file: string): policy.PackageLock | null {
  const text = readOr(file);
  return text ? JSON.parse(text) : null;
}
