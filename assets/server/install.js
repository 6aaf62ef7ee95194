'use strict';
// A release's dependencies. Install scripts are off (`--ignore-scripts`): a package's `postinstall` runs
// as the deploy user otherwise, and one `rm -rf ~` took ~/.ssh, the registry, ~/.pm2 and every release.
// Scripts the service allows (package.json "allowScripts") run as BUILD_USER, a separate account made by
// the bootstrap, which cannot enter the deploy user's home or write the Caddyfile's folder: it installs
// into a scratch folder of its own, and the deploy user copies node_modules out of it.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { note, AgentError } = require('./protocol');
const { run, tail } = require('./run');
const policy = require('../../lib/agent/install-policy');

const BUILD_USER = 'portside-build';
/** Written into node_modules when allowed scripts ran: a reused node_modules must have been built the same way. */
const STAMP = '.portside-scripts.json';
// A t3.micro has 1 GiB: no audit, no fund, no dev dependencies.
const FLAGS = ['--omit=dev', '--no-audit', '--no-fund', '--loglevel=error', '--ignore-scripts'];

// Runs as BUILD_USER. Fixed text: the folder, the root scripts and the rebuild entries arrive as positional
// parameters. The deploy user's ~/.npmrc (registry, proxy, tokens) comes in the tar as .portside-user-npmrc.
const BUILD_SCRIPT = `set -e
umask 022
d=$1; root=$2; shift 2
cd "$d"
tar -x -f - --no-same-owner
[ -f .portside-user-npmrc ] && export NPM_CONFIG_USERCONFIG="$d/.portside-user-npmrc"
if [ -f package-lock.json ]; then npm ci ${FLAGS.join(' ')}; else npm install --no-package-lock ${FLAGS.join(' ')}; fi
if [ $# -gt 0 ]; then npm rebuild --foreground-scripts "$@"; fi
for s in $root; do npm run --ignore-scripts --foreground-scripts "$s"; done`;

/** Install the release's dependencies in `dir`; allowed install scripts run as BUILD_USER, no others run. */
async function install(dir, lockfileChanged) {
  const pkgFile = path.join(dir, 'package.json');
  if (!fs.existsSync(pkgFile)) return;
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  if (!pkg.dependencies || Object.keys(pkg.dependencies).length === 0) return;
  const lockFile = path.join(dir, 'package-lock.json');
  const lock = fs.existsSync(lockFile) ? JSON.parse(fs.readFileSync(lockFile, 'utf8')) : null;
  let plan;
  try {
    plan = policy.planScripts(pkg, lock);
  } catch (e) {
    if (e instanceof policy.PolicyError) throw new AgentError(e.message, undefined, 'BAD_ALLOW_SCRIPTS');
    throw e;
  }
  const runs = plan.rebuild.length > 0 || plan.root.length > 0;
  // The project's own scripts by their text: a changed postinstall must run again.
  const stamp = runs ? JSON.stringify({ rebuild: plan.rebuild, root: plan.root.map((n) => [n, pkg.scripts[n]]) }) : null;
  const modules = path.join(dir, 'node_modules');
  if (!lockfileChanged && fs.existsSync(modules)) {
    // node_modules from before this stamp existed were built with every script run: fine to reuse unless scripts are now allowed.
    if (readOr(path.join(modules, STAMP)) === stamp) {
      note('dependencies unchanged: reusing the previous release\'s node_modules');
      return;
    }
    // Linked to the previous release's files (cp -al): remove, never write through.
    fs.rmSync(modules, { recursive: true, force: true });
  }
  if (runs) await installAsBuildUser(dir, plan, lock, stamp);
  else if (lock) await run('npm', ['ci', ...FLAGS], { cwd: dir, echo: true });
  else await run('npm', ['install', '--no-package-lock', ...FLAGS], { cwd: dir, echo: true });
  // Without a lockfile, npm's hidden lockfile says which installed packages have scripts.
  const skipped = lock ? plan.skipped : policy.planScripts(pkg, readJson(path.join(modules, '.package-lock.json'))).skipped;
  const text = policy.skippedNote(skipped, BUILD_USER);
  if (text) note(text);
}

const sudo = (args) => ['-n', '-H', '-u', BUILD_USER, '--', 'env', `PATH=${process.env.PATH}`, ...args];

function allowedLabel(plan) {
  return [...plan.rebuild, ...(plan.root.length ? [`its own ${plan.root.join(', ')}`] : [])].join(', ');
}

async function installAsBuildUser(dir, plan, lock, stamp) {
  let scratch;
  try {
    // cwd "/": sudo keeps the caller's folder, which BUILD_USER may not enter.
    const made = await run('sudo', sudo(['sh', '-c', 'd=$(mktemp -d "${TMPDIR:-/tmp}/portside-install.XXXXXX") && chmod 755 "$d" && echo "$d"']), { cwd: '/' });
    scratch = made.stdout.trim();
  } catch (e) {
    throw new AgentError(`install scripts are allowed for ${allowedLabel(plan)}, but they run only as the separate user "${BUILD_USER}", and \`sudo -n -u ${BUILD_USER}\` failed as ${os.userInfo().username}: ${tail(e.stderr || e.message, 2)}. Nothing ran as ${os.userInfo().username}; nothing was switched.`,
      'Run the server\'s bootstrap again (EC2: sudo /usr/local/sbin/portside-bootstrap needs the same PORTSIDE_* settings; local: portside local up) to create the build user and its sudo rule, or remove those entries from "allowScripts".', 'NO_BUILD_USER');
  }
  try {
    // Everything but node_modules and the secrets (.portside.env), plus the deploy user's npm settings.
    const npmrc = path.join(os.homedir(), '.npmrc');
    const tarArgs = ['-c', '-f', '-', '-C', dir, '--exclude=./node_modules', '--exclude=./.portside.env', '.'];
    // Only the member named exactly ".npmrc" (the home's; the project's is "./.npmrc") is renamed.
    if (fs.existsSync(npmrc)) tarArgs.push('-C', os.homedir(), '--transform=s,^\\.npmrc$,.portside-user-npmrc,', '.npmrc');
    const tar = spawn('tar', tarArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    await run('sudo', sudo(['sh', '-c', BUILD_SCRIPT, 'sh', scratch, plan.root.join(' '), ...plan.rebuild]), { cwd: '/', echo: true, input: tar.stdout });
    await copyOut(scratch, dir, lock);
    fs.writeFileSync(path.join(dir, 'node_modules', STAMP), stamp);
    note(`install scripts ran as "${BUILD_USER}" for: ${allowedLabel(plan)}`);
  } catch (e) {
    if (e instanceof AgentError) throw e;
    const what = e.code !== undefined ? `exit ${e.code}` : e.message;
    throw new AgentError(`installing as "${BUILD_USER}" with the allowed install scripts (${allowedLabel(plan)}) failed (${what})`, tail(e.stderr || e.stdout || e.message, 10), 'INSTALL');
  } finally {
    await run('sudo', sudo(['rm', '-rf', '--', scratch]), { cwd: '/', allowFail: true });
  }
}

/** node_modules, and each `file:` folder dependency inside the service (its build output lives there). */
async function copyOut(scratch, dir, lock) {
  const linked = Object.values((lock && lock.packages) || {})
    .filter((p) => p && p.link && typeof p.resolved === 'string' && !path.isAbsolute(p.resolved) && !p.resolved.split('/').includes('..'))
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

function readOr(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function readJson(file) {
  const text = readOr(file);
  return text ? JSON.parse(text) : null;
}

module.exports = { install, BUILD_USER };
