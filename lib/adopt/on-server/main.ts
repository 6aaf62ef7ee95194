// The adopt and undo run on the server: scripts/build.js bundles this file into dist/server/adopt.js,
// which the CLI sends with the agent and starts as `<the server's node> ~/.portside/bin/<version>/adopt.js`
// (lib/adopt/run-on-server.ts). It runs apply.ts and undo.ts with LocalCommands, so a killed CLI or a
// cut connection never leaves a server half-adopted: it ignores SIGHUP (and SIGPIPE, as Node does),
// holds the deploy lock for the whole run, and when its CLI goes before an adoption's last step it
// stops at the next step and puts the server back. An undo always finishes (see runUndo).
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { recover } from '../../agent/commands/recover';
import * as lock from '../../agent/lock';
import { UserError } from '../../errors';
import { encodeLine } from '../../protocol/framing';
import { BIN_DIR, onServer, PORTSIDE_DIR } from '../../remote/layout';
import { Steps } from '../adopted';
import { ADOPT_STEPS, applyAdoption, opsFor } from '../apply';
import { ADOPTED_FILE, BEFORE_DIR, LAUNCH_ENTRIES, readBefore } from '../record';
import { AdoptServer } from '../server-ops';
import { restoreFromRecord, undoAdoption } from '../undo';
import { ClientWatch } from './client-watch';
import { withCaddyRefusal } from './fault-hook';
import { LocalCommands } from './local-commands';
import { ADOPT_LOG, RunHeader, RunLine } from './messages';
import { RunLog } from './run-log';

process.on('SIGHUP', () => {});
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

const HOME = homedir();
/** How long a run waits for another one (or a deploy) to finish: longer than an adoption put back. */
const LOCK_WAIT_MS = 180_000;
const cmd = new LocalCommands();
const log = new RunLog(onServer(HOME, ADOPT_LOG));
const watch = new ClientWatch(process.stdin);

function send(line: RunLine): void {
  try {
    process.stdout.write(encodeLine(line));
  } catch {
    /* the CLI is gone; the run carries on */
  }
}

function say(text: string): void {
  log.line(text);
  send({ type: 'said', text });
}

async function main(): Promise<void> {
  const header = (await watch.next()) as RunHeader | null;
  if (!header || (header.type !== 'adopt' && header.type !== 'undo')) throw new UserError('the adopt run got no request from the CLI');
  const busy = existsSync(lock.LOCK);
  const stale = await lock.acquire(header.who, header.type === 'adopt' ? 'adopt' : 'adopt --undo', LOCK_WAIT_MS);
  try {
    // A deploy killed while it held the lock: clean up after it as the agent would.
    if (stale && !stale.what.startsWith('adopt')) recover();
    const previous = log.previousUnseen();
    if (previous) send({ type: 'previous', lines: previous });
    log.start(`=== ${header.type} by ${header.who} (pid ${process.pid})`);
    const outcome = header.type === 'adopt' ? await runAdopt(header, busy || !!stale) : await runUndo(header);
    log.end('done', watch.gone());
    send({ type: 'result', ok: true, outcome });
  } catch (e) {
    log.end(`failed: ${(e as Error).message.split('\n')[0]}`, watch.gone());
    throw e;
  } finally {
    finish();
  }
}

/**
 * Adopt: say when the server changed while this run waited for the lock (the CLI reads it again),
 * put back an adoption whose run died part-way, then apply the plan the CLI sends. Each step first
 * checks that the CLI is still there; from the last step on, the adoption finishes either way.
 */
async function runAdopt(header: Extract<RunHeader, { type: 'adopt' }>, waited: boolean): Promise<unknown> {
  const restored = await putBackDeadRun();
  send({ type: 'ready', changed: waited || restored });
  const next = await watch.next();
  if (!next || next.type !== 'plan') return { aborted: next ? 'the CLI stopped' : watch.gone() };
  let current = 0;
  const steps: Steps = {
    say,
    step(n, text) {
      const gone = watch.gone();
      if (gone) throw new UserError(`stopped before step ${n}/${ADOPT_STEPS}: ${gone}`, 'Run portside adopt again: it prints this run\'s log, then adopts.');
      current = n;
      say(`${n}/${ADOPT_STEPS} ${text}`);
    },
  };
  const ops = opsFor(cmd, next.plan);
  return applyAdoption(header.fault ? withCaddyRefusal(ops, header.fault, () => current) : ops, next.plan, header.who, steps);
}

/**
 * A record without adopted.json while this run holds the lock: the run that made it is dead (the
 * server was restarted, or the run was killed on the server). Put the server back from the record.
 */
async function putBackDeadRun(): Promise<boolean> {
  if (existsSync(onServer(HOME, ADOPTED_FILE))) return false;
  const before = await readBefore(cmd, HOME);
  if (!before) return false;
  say(`an earlier adoption of this server stopped part-way and its run is gone (~/${BEFORE_DIR} is recorded, ~/${ADOPTED_FILE} is not): putting the server back first`);
  await restoreFromRecord(opsFor(cmd, before.plan), HOME, before, say);
  return true;
}

/**
 * Undo runs to its end whether or not its CLI stays: each step moves the server towards the record,
 * which is complete and can be reached from any point (restoreFromRecord), while the way back to
 * "adopted" is gone once step 4 removes the releases. Stopping part-way would leave the half state
 * the issue forbids; finishing leaves the server as the student had it, which is what was asked.
 */
async function runUndo(header: Extract<RunHeader, { type: 'undo' }>): Promise<unknown> {
  return undoAdoption(new AdoptServer(cmd, header.node, header.pm2Bin, header.caddy), header.home, header.discardDeploys, say);
}

/**
 * Release the lock. When no adoption is recorded now (put back, undone, or never begun) and
 * ~/.portside holds nothing but what the run's launch made (LAUNCH_ENTRIES: the bundle, the lock),
 * those go too: the server has no ~/.portside, as before. The lock goes last, then the folder only
 * if nobody took the lock meanwhile.
 */
function finish(): void {
  const dir = onServer(HOME, PORTSIDE_DIR);
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  if (!existsSync(onServer(HOME, BEFORE_DIR)) && entries.every((n) => LAUNCH_ENTRIES.includes(n))) rmSync(onServer(HOME, BIN_DIR), { recursive: true, force: true });
  lock.release();
  try {
    rmdirSync(onServer(HOME, PORTSIDE_DIR));
  } catch {
    /* not empty: Portside's files (an adopted server), or another run's lock */
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    send({ type: 'result', ok: false, error: e.message, detail: (e as UserError).detail });
    process.exit(1);
  },
);
