'use strict';
// Portside's agent on the server. The CLI runs `node ~/.portside/bin/<version>/agent.js <command>`
// over SSH and speaks JSON lines with it (see protocol.js). Each mutating command runs under the
// server lock and either completes or puts everything back as it was.
const fs = require('fs');
const path = require('path');
const os = require('os');
const { send, step, note, AgentError, createInput, currentStep } = require('./protocol');
const lock = require('./lock');
const rel = require('./releases');
const procs = require('./procs');
const routes = require('./routes');
const owner = require('./port-owner');
const store = require('./registry-store');
const { run } = require('./run');
// Install scripts are off; allowed ones run as a separate build user (see install.js).
const { install } = require('./install');

const HOME = os.homedir();
/** How long after its first answer a new release must still be the same, online process. */
const STAY_UP_MS = 200;
const serviceBase = (name) => path.join(HOME, 'services', name);

async function main() {
  const command = process.argv[2];
  const input = createInput();
  const header = await input.next();
  if (!header) throw new AgentError('no request received');
  const handler = COMMANDS[command];
  if (!handler) throw new AgentError(`unknown agent command "${command}"`);
  let locked = false;
  try {
    if (!header.readOnly && handler.mutates) {
      const stale = await lock.acquire(header.who || 'someone', header.what || command, header.waitMs ?? 60000);
      locked = true;
      if (stale) recover();
      // A lost or corrupt registry is rebuilt from the server before anything reads it.
      await store.ensureRegistry({ declared: header.declared, pm2List: procs.pm2List });
    } else if (store.registryStatus().state !== 'ok') {
      // Read-only commands repair it too (under the lock, briefly), so `portside services` works at once.
      await lock.acquire(header.who || 'someone', 'rebuild the registry', header.waitMs ?? 60000);
      try {
        await store.ensureRegistry({ declared: header.declared, pm2List: procs.pm2List });
      } finally {
        lock.release();
      }
    }
    const result = await handler.run(header, input);
    send({ type: 'result', ok: true, ...result });
  } finally {
    if (locked) lock.release();
  }
}

/** After a killed deploy: drop half-made releases and candidate files nobody will finish. */
function recover() {
  const removed = [];
  for (const name of safeList(path.join(HOME, 'services'))) {
    removed.push(...rel.removeOrphans(rel.layout(serviceBase(name))).map((id) => `${name}/${id}`));
  }
  try {
    const reg = JSON.parse(routes.readRegistryText());
    removed.push(...rel.removeOrphans(rel.layout(reg.paths.www)).map((id) => `www/${id}`));
    const dir = path.dirname(reg.paths.caddyfile);
    for (const f of safeList(dir)) if (f.startsWith('.Caddyfile.new-')) fs.rmSync(path.join(dir, f), { force: true });
  } catch {
    /* no registry: nothing else to clean */
  }
  if (removed.length) note(`removed unfinished releases left by the killed deploy: ${removed.join(', ')}`);
  const probes = procs.endOrphanProbes();
  if (probes.length) note(`ended the probe processes the killed deploy left running (process groups ${probes.join(', ')})`);
}

function safeList(dir) {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function stateOf(l) {
  const id = rel.currentId(l);
  const manifest = id ? rel.readManifest(l, id) : null;
  return { id, files: manifest ? manifest.files : null, meta: manifest ? { ...manifest, files: undefined } : null };
}

/** Ask the CLI for its plan after sending the server's state; null means "stop here, change nothing". */
async function exchange(input, state) {
  send({ type: 'state', ...state });
  const plan = await input.next();
  if (!plan || plan.type !== 'plan') {
    if (plan && plan.type === 'abort') return null;
    throw new AgentError('the connection to the CLI ended before it sent its plan; nothing was changed');
  }
  return plan;
}

const registryState = () => {
  const text = routes.readRegistryText();
  const reg = JSON.parse(text);
  let caddyfile = null;
  try {
    caddyfile = fs.readFileSync(reg.paths.caddyfile, 'utf8');
  } catch {
    /* reported by the CLI as drift */
  }
  return { registry: text, caddyfile };
};

// ---------------------------------------------------------------- deploy a service

async function deploy(header, input) {
  const name = header.service;
  const base = serviceBase(name);
  const l = rel.layout(base);
  const before = stateOf(l);
  // Asked while the CLI builds its plan: the CLI does not need the process to plan.
  const procAsked = procs.pm2Find(name);
  procAsked.catch(() => {});
  const plan = await exchange(input, { ...registryState(), current: before, history: rel.readHistory(l).slice(-5) });
  if (!plan) return { aborted: true };
  const proc = await procAsked;

  const { port, start, healthPath } = plan;
  // Same files as the current release, but its process is not running or the routes must be rendered
  // again: start a copy of it as a new release (staging into the current release's own folder fails).
  const id = plan.unchanged && plan.id === before.id ? freshReleaseId() : plan.id;
  const liveOk = proc && proc.pm2_env.status === 'online' && procs.portOf(proc) === port;
  if (plan.unchanged && liveOk && !plan.routes) {
    note('nothing changed: same files, same port, same routes, and the service is running; nothing to send or restart (use --force to restart anyway)');
    return { unchanged: true, id: before.id, port };
  }
  fs.mkdirSync(base, { recursive: true, mode: 0o750 });
  const prevConfig = readOr(path.join(base, 'pm2.json'));
  let dir;
  let reloaded = false;
  let started = null;
  /** Resolves null, or the error for a release that stopped running right after its first answer. */
  let stayedUp = Promise.resolve(null);
  const undo = [];
  try {
    dir = await step('upload', () => rel.stage(l, id, before.id, plan.keep, plan.upload ? input.rest() : null, !plan.lockfileChanged));
    if (!plan.upload) drain(input);
    rel.writeManifest(dir, { id, files: plan.files, start, healthPath, port, by: header.who, at: new Date().toISOString() });
    writeEnvFile(dir, plan.env, before.id ? l.dir(before.id) : null);
    await step('install', () => install(dir, plan.lockfileChanged));
    if (plan.staticOnly && liveOk) note('only front-end files changed: the code is the running release\'s, so no probe; the handover is still health-checked');
    else await step('probe', () => procs.probe(dir, start, {}, healthPath, plan.probeTimeoutMs || 30000));

    await step('switch', async () => {
      const config = procs.appConfig(name, base, start, port);
      const reloadable = proc && procs.portOf(proc) === port && proc.pm2_env.exec_mode === 'cluster_mode'
        && start.script && prevConfig && JSON.stringify(JSON.parse(prevConfig).apps[0]) === JSON.stringify(config);
      // A stray process on the port would answer in the new release's place: refuse before switching.
      if (!reloadable) await procs.assertPortFree(port, proc);
      rel.switchTo(l, id);
      undo.push(() => restoreProcess(l, base, before.id, proc, prevConfig));
      if (reloadable) await procs.pm2Reload(name);
      else await procs.pm2StartFresh(base, config);
      reloaded = !!reloadable;
      // The process pm2 runs now, taken before its first answer: a worker that exits after answering
      // is replaced by pm2 within milliseconds, and the replacement must not pass for it.
      started = await procs.pm2Find(name);
      await procs.waitHealthy(port, healthPath, plan.probeTimeoutMs || 30000, 0);
      stayedUp = stillRunning(name, port, healthPath, started, Date.now());
    });

    if (plan.routes) {
      await step('route', async () => {
        undo.push(await routes.applyRoutes(plan.routes.registry, plan.routes.caddyfile));
      });
    }
    await step('verify', async () => {
      // Through Caddy, while the stay-up check waits out its moment. A release that stopped running
      // fails with that reason whatever Caddy said meanwhile: one cause, one message.
      const verified = verify(plan.verifyUrl).then(() => null, (e) => e);
      // Under a path prefix, check the page's files arrive as files (runs during the stay-up wait).
      const pageChecked = plan.verifyUrl && new URL(plan.verifyUrl).pathname !== '/'
        ? require('./page-check').pageProblems(plan.verifyUrl).catch(() => []) : Promise.resolve([]);
      const exited = await stayedUp;
      if (exited) throw exited;
      const unverified = await verified;
      if (unverified) throw unverified;
      const problems = await pageChecked;
      if (problems.length) note(`warning: ${plan.verifyUrl} loads, but ${problems.length} file(s) it references do not:\n${problems.map((p) => `    ${p}`).join('\n')}`);
    });
  } catch (e) {
    note(undo.length ? `${currentStep()} failed: putting the previous version back` : `${currentStep()} failed: nothing was switched; the running version was not touched`);
    for (const fn of undo.reverse()) await fn().catch((err) => note(`undo step failed: ${err.message}`));
    // Also when staging itself failed (a full disk, a cut upload): its partial folder must not stay behind.
    if (rel.currentId(l) !== id) fs.rmSync(l.dir(id), { recursive: true, force: true });
    throw e;
  }
  await step('save', async () => {
    // A reload keeps pm2's definition of the process as it was (same script path through `current`,
    // same args and env), so the saved process list would not change: skip `pm2 save` (~0.2–0.4 s).
    if (!reloaded) await procs.pm2Save();
    rel.appendHistory(l, { id, at: new Date().toISOString(), by: header.who, port });
    // Old releases are moved aside at once and deleted by a detached `rm` after the agent has answered
    // (a release with node_modules is hundreds of files: ~0.1 s that no deploy needs to wait for).
    return rel.pruneAside(l, plan.keepReleases || 5);
  });
  return { id, port, previous: before.id };
}


/**
 * Still the same process, still answering, a moment after its first answer. pm2 restarts a worker
 * that exits and the restarted one answers again, so neither the answer alone nor pm2's status alone
 * can tell; the same pid and restart count, and an answer from that process, can. Whatever is seen
 * (refused, answered by the replacement, pm2 given up), the user gets one message.
 */
async function stillRunning(name, port, healthPath, started, answeredAt) {
  await new Promise((r) => setTimeout(r, Math.max(0, answeredAt + STAY_UP_MS - Date.now())));
  const [answer, now] = await Promise.all([procs.askHealth(port, healthPath, 2000), procs.pm2Find(name)]);
  const same = !!started && !!now && now.pid === started.pid && now.pm2_env.status === 'online'
    && now.pm2_env.restart_time === started.pm2_env.restart_time;
  const fromIt = !started || answer.pid === null || owner.isSameOrDescendant(answer.pid, started.pid);
  if (same && procs.healthy(answer.status) && fromIt) return null;
  const seen = [
    !now ? 'pm2 no longer lists it' : now.pid !== (started && started.pid) ? `pm2 runs pid ${now.pid} now, not ${started && started.pid}` : null,
    now && started && now.pm2_env.restart_time !== started.pm2_env.restart_time ? `restarts ${started.pm2_env.restart_time} → ${now.pm2_env.restart_time}` : null,
    now && now.pm2_env.status !== 'online' ? `status ${now.pm2_env.status}` : null,
    `GET ${healthPath}: ${answer.status}`,
  ].filter(Boolean).join('; ');
  return new AgentError(`the new release stopped running right after it started answering GET ${healthPath} on 127.0.0.1:${port} (${seen})`,
    `Its log (portside logs ${name}) says why; a service must keep running after its first answer.`, 'EXITED');
}

async function verify(url) {
  if (!url) return;
  const deadline = Date.now() + 10000;
  let r;
  do {
    r = await routes.viaCaddy(url);
    if (r.status && r.status < 500) return;
    if (r.error && /CERT|SSL|TLS|EPROTO|ECONNRESET/.test(r.error)) {
      note(`route set, but HTTPS to ${url} is not ready yet (${r.error}): Caddy may still be getting the certificate`);
      return;
    }
    await new Promise((res) => setTimeout(res, 200));
  } while (Date.now() < deadline);
  throw new AgentError(`${url} did not answer through Caddy (${r.status || r.error})`, undefined, 'VERIFY');
}

async function restoreProcess(l, base, prevId, prevProc, prevConfig) {
  const name = path.basename(base);
  if (prevId) rel.switchTo(l, prevId);
  else fs.rmSync(l.current, { force: true });
  if (!prevProc || !prevConfig) {
    if (await procs.pm2Find(name)) await run('pm2', ['delete', name]);
    return;
  }
  const config = JSON.parse(prevConfig).apps[0];
  const now = await procs.pm2Find(name);
  if (now && now.pm2_env.status === 'online' && procs.portOf(now) === procs.portOf(prevProc) && now.pm2_env.exec_mode === 'cluster_mode') {
    // A reload keeps the port served throughout; a crash-looping new release can make pm2 refuse it.
    try {
      await procs.pm2Reload(name);
      return;
    } catch (e) {
      note(`pm2 could not reload ${name} (${e.message}); starting the previous release afresh`);
    }
  }
  await procs.pm2StartFresh(base, config);
}

/**
 * The release's env file: the one uploaded with this deploy, or else a copy of the base release's
 * (a deploy without --service-env keeps the service's settings). Copied, never linked: each release
 * owns its files, and a rollback must find the settings that release ran with.
 */
function writeEnvFile(dir, uploaded, baseDir) {
  const envFile = path.join(dir, '.portside.env');
  fs.rmSync(envFile, { force: true });
  if (uploaded !== null && uploaded !== undefined) {
    fs.writeFileSync(envFile, uploaded, { mode: 0o600, flag: 'wx' });
    return;
  }
  if (!baseDir) return;
  try {
    fs.copyFileSync(path.join(baseDir, '.portside.env'), envFile, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(envFile, 0o600);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
}

function freshReleaseId() {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${require('crypto').randomBytes(2).toString('hex')}`;
}

function readOr(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function drain(input) {
  input.rest().resume();
}

// ---------------------------------------------------------------- static site

async function deployFiles(header, input) {
  const reg = JSON.parse(routes.readRegistryText());
  const l = rel.layout(reg.paths.www);
  const before = stateOf(l);
  const plan = await exchange(input, { ...registryState(), current: before });
  if (!plan) return { aborted: true };
  if (plan.unchanged) {
    note('nothing changed in the site: nothing sent');
    return { unchanged: true, id: before.id };
  }
  let dir;
  try {
    dir = await step('upload', () => rel.stage(l, plan.id, before.id, plan.keep, plan.upload ? input.rest() : null, true));
    if (!plan.upload) drain(input);
    rel.writeManifest(dir, { id: plan.id, files: plan.files, by: header.who, at: new Date().toISOString() });
    fs.chmodSync(dir, 0o755);
    await step('switch', async () => rel.switchTo(l, plan.id));
    await step('verify', () => verify(plan.verifyUrl).catch(async (e) => {
      if (before.id) rel.switchTo(l, before.id);
      throw e;
    }));
  } catch (e) {
    if (rel.currentId(l) !== plan.id) fs.rmSync(l.dir(plan.id), { recursive: true, force: true });
    throw e;
  }
  rel.appendHistory(l, { id: plan.id, at: new Date().toISOString(), by: header.who });
  rel.prune(l, plan.keepReleases || 5);
  return { id: plan.id, previous: before.id };
}

// ---------------------------------------------------------------- rollback

async function rollback(header) {
  const name = header.service;
  const base = serviceBase(name);
  const l = rel.layout(base);
  const cur = rel.currentId(l);
  if (!cur) throw new AgentError(`"${name}" has no current release on this server`, 'Deploy it first: portside deploy-service ' + name, 'NO_RELEASE');
  const { target, candidates } = require('./rollback-target').pickTarget(name, l, cur, header.to);
  const meta = rel.readManifest(l, target, { anyId: true });
  const curMeta = rel.readManifest(l, cur, { anyId: true });
  const port = curMeta ? curMeta.port : meta.port;
  const others = candidates.map((c) => c.id);
  if (header.dryRun) return { id: target, previous: cur, port, dryRun: true, releases: others };
  const proc = await procs.pm2Find(name);
  const prevConfig = readOr(path.join(base, 'pm2.json'));
  await step('probe', () => procs.probe(l.dir(target), meta.start, {}, meta.healthPath || '/', 30000));
  try {
    await step('switch', async () => {
      rel.switchTo(l, target);
      const config = procs.appConfig(name, base, meta.start, port);
      if (proc && procs.portOf(proc) === port && prevConfig && JSON.stringify(JSON.parse(prevConfig).apps[0]) === JSON.stringify(config)) await procs.pm2Reload(name);
      else await procs.pm2StartFresh(base, config);
      await procs.waitHealthy(port, meta.healthPath || '/', 30000);
    });
  } catch (e) {
    await restoreProcess(l, base, cur, proc, prevConfig).catch(() => {});
    throw e;
  }
  await procs.pm2Save();
  rel.appendHistory(l, { id: target, at: new Date().toISOString(), by: header.who, port, rollbackFrom: cur });
  return { id: target, previous: cur, port, releases: others };
}

// ---------------------------------------------------------------- remove

async function remove(header, input) {
  const name = header.service;
  const base = serviceBase(name);
  const proc = await procs.pm2Find(name);
  const plan = await exchange(input, { ...registryState(), process: proc ? { status: proc.pm2_env.status, port: procs.portOf(proc) } : null });
  if (!plan) return { aborted: true };
  const prevConfig = readOr(path.join(base, 'pm2.json'));
  if (proc) await step('stop', () => run('pm2', ['delete', name]));
  try {
    if (plan.routes) await step('route', () => routes.applyRoutes(plan.routes.registry, plan.routes.caddyfile));
  } catch (e) {
    if (proc && prevConfig) await procs.pm2StartFresh(base, JSON.parse(prevConfig).apps[0]).catch(() => {});
    throw e;
  }
  await procs.pm2Save();
  if (plan.purge) await step('purge', async () => fs.rmSync(base, { recursive: true, force: true }));
  return { removed: name, purged: !!plan.purge };
}

// ---------------------------------------------------------------- sync the declared configuration

/** Adopt <caddy dir>/declared.json (written by a later `cdk deploy`): the CLI merges, this applies. */
async function sync(header, input) {
  const state = registryState();
  const file = path.join(path.dirname(JSON.parse(state.registry).paths.caddyfile), 'declared.json');
  const list = await procs.pm2List().catch(() => []);
  const processes = Object.fromEntries(list.map((p) => [p.name, { status: p.pm2_env.status, port: procs.portOf(p) || null }]));
  const plan = await exchange(input, { ...state, declared: readOr(file), processes });
  if (!plan) return { aborted: true };
  if (!plan.routes) return { unchanged: true };
  await step('route', () => routes.applyRoutes(plan.routes.registry, plan.routes.caddyfile));
  return { synced: true };
}

// ---------------------------------------------------------------- status (read-only)

async function status() {
  const reg = JSON.parse(routes.readRegistryText());
  const list = await procs.pm2List().catch(() => []);
  const services = [];
  const names = new Set([...Object.keys(reg.services), ...safeList(path.join(HOME, 'services'))]);
  for (const name of [...names].sort()) {
    const l = rel.layout(serviceBase(name));
    const p = list.find((x) => x.name === name);
    const port = reg.services[name];
    const history = rel.readHistory(l);
    const healthPath = healthPathOf(l);
    const last = history[history.length - 1];
    services.push({
      name,
      port: port ?? null,
      registered: port !== undefined,
      release: rel.currentId(l),
      deployedAt: last ? last.at : null,
      process: p ? p.pm2_env.status : 'none',
      processPort: p ? procs.portOf(p) : null,
      restarts: p ? p.pm2_env.restart_time : null,
      healthPath,
      health: port ? await procs.probeHttp(port, healthPath, 2000) : null,
    });
  }
  const www = rel.layout(reg.paths.www);
  return { registry: reg, services, site: { release: rel.currentId(www) } };
}

/** The path a service's current release is health-checked at (its manifest says; `/` by default). */
function healthPathOf(l) {
  const id = rel.currentId(l);
  const m = id ? rel.readManifest(l, id, { anyId: true }) : null;
  return (m && m.healthPath) || '/';
}

const COMMANDS = {
  deploy: { mutates: true, run: deploy },
  'deploy-files': { mutates: true, run: deployFiles },
  rollback: { mutates: true, run: rollback },
  remove: { mutates: true, run: remove },
  sync: { mutates: true, run: sync },
  status: { mutates: false, run: status },
  // Only what every mutating command does first: rebuild a lost registry (`portside local up` uses it).
  repair: { mutates: true, run: async () => ({ registry: store.registryStatus().state }) },
};

main().then(
  () => process.exit(0),
  (e) => {
    send({ type: 'result', ok: false, error: e.message, detail: e.detail, code: e.code || 'FAILED', step: currentStep() });
    process.exit(1);
  },
);
