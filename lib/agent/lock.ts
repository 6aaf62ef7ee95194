// One deploy at a time per server. `mkdir` is atomic; owner.json says who holds it. The holder is
// the agent process itself (it ignores SIGHUP and always finishes), so a lock whose process is gone
// was left by a killed agent: it is recovered, and said so, never silently.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { LOCK_DIR, LOCK_OWNER_FILE, onServer } from '../remote/layout';
import { STAT, statFields } from './proc';
import { AgentError, note } from './protocol-io';

export const LOCK = onServer(homedir(), LOCK_DIR);
const OWNER = onServer(homedir(), LOCK_OWNER_FILE);
/** How long a command waits for a live holder before it gives up (LOCKED). */
export const LOCK_WAIT_MS = 60_000;
/** A lock folder without owner.json older than this was left by a kill between mkdir and write. */
const EMPTY_LOCK_STALE_MS = 5000;

/** What owner.json records. */
export interface LockOwner {
  readonly who: string;
  readonly what: string;
  readonly pid: number;
  /** The holder's start time in clock ticks (/proc/<pid>/stat field 22): tells a recycled pid apart. */
  readonly start: string;
  readonly at: string;
}

function alive(pid: number, startTicks: string): boolean {
  // The start time tells a recycled pid from the holder: it has another one.
  const fields = statFields(pid);
  return !!fields && String(fields[STAT.START_TIME]) === String(startTicks);
}

function readOwner(): LockOwner | null {
  try {
    return JSON.parse(readFileSync(OWNER, 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

/** mkdir the lock and write owner.json; false when someone holds it. */
function tryTake(who: string, what: string): boolean {
  try {
    mkdirSync(LOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  const owner: LockOwner = { who, what, pid: process.pid, start: statFields(process.pid)![STAT.START_TIME], at: new Date().toISOString() };
  writeFileSync(OWNER, JSON.stringify(owner));
  return true;
}

/** Age of a lock folder without an owner, or null when it went away meanwhile. */
function emptyLockAge(): number | null {
  try {
    return Date.now() - statSync(LOCK).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Take the lock, waiting (visibly) up to waitMs for a live holder; returns the stale holder recovered, if
 * any. A stale lock is removed and then taken like any free one (the loop goes round again), so the caller
 * always holds the lock when this returns.
 */
export async function acquire(who: string, what: string, waitMs = LOCK_WAIT_MS): Promise<LockOwner | null> {
  mkdirSync(dirname(LOCK), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + waitMs;
  let announced = false;
  let recovered: LockOwner | null = null;
  for (;;) {
    if (tryTake(who, what)) return recovered;
    const owner = readOwner();
    if (!owner) {
      // Made but not yet written by another agent, or left empty by a kill between the two calls.
      const age = emptyLockAge();
      if (age === null) continue; // released between our mkdir and this look: try again at once
      if (age > EMPTY_LOCK_STALE_MS) {
        rmSync(LOCK, { recursive: true, force: true });
        note('recovered an empty deploy lock (a deploy was killed as it started)');
        continue;
      }
    } else if (!alive(owner.pid, owner.start)) {
      // Read again just before removing: another agent may have recovered it and taken it meanwhile.
      if (!sameOwner(readOwner(), owner)) continue;
      rmSync(LOCK, { recursive: true, force: true });
      note(`recovered a stale deploy lock: ${owner.who} started "${owner.what}" at ${owner.at} and was killed before it finished`);
      recovered = owner;
      continue;
    } else if (Date.now() >= deadline) {
      throw new AgentError(`the server is busy: ${owner.who} has been running "${owner.what}" since ${owner.at}`,
        'Wait for it to finish and run this again (Portside never steals a live lock).', 'LOCKED');
    } else if (!announced) {
      note(`waiting for the deploy lock: ${owner.who} is running "${owner.what}" (since ${owner.at})`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function sameOwner(a: LockOwner | null, b: LockOwner): boolean {
  return !!a && a.pid === b.pid && String(a.start) === String(b.start);
}

/** Release the lock if this process holds it. */
export function release(): void {
  const owner = readOwner();
  if (owner && owner.pid === process.pid) rmSync(LOCK, { recursive: true, force: true });
}
