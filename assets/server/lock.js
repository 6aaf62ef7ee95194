'use strict';
// One deploy at a time per server. `mkdir` is atomic; owner.json says who holds it. The holder is
// the agent process itself (it ignores SIGHUP and always finishes), so a lock whose process is gone
// was left by a killed agent: it is recovered, and said so, never silently.
const fs = require('fs');
const path = require('path');
const os = require('os');
const { note, AgentError } = require('./protocol');
const { STAT, statFields } = require('./proc');

const LOCK = path.join(os.homedir(), '.portside', 'lock');

function alive(pid, startTicks) {
  // The start time tells a recycled pid from the holder: it has another one.
  const fields = statFields(pid);
  return !!fields && String(fields[STAT.START_TIME]) === String(startTicks);
}

function myStartTicks() {
  return statFields(process.pid)[STAT.START_TIME];
}

function readOwner() {
  try {
    return JSON.parse(fs.readFileSync(path.join(LOCK, 'owner.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** Take the lock, waiting (visibly) up to waitMs for a live holder; returns info on any stale lock recovered. */
async function acquire(who, what, waitMs) {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, 'owner.json'), JSON.stringify({ who, what, pid: process.pid, start: myStartTicks(), at: new Date().toISOString() }));
      return null;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const owner = readOwner();
    if (!owner) {
      // Made but not yet written by another agent, or left empty by a kill between the two calls.
      let age = 0;
      try {
        age = Date.now() - fs.statSync(LOCK).mtimeMs;
      } catch (e) {
        // Released between our mkdir and this look: try again at once.
        if (e.code === 'ENOENT') continue;
        throw e;
      }
      if (age > 5000) {
        fs.rmSync(LOCK, { recursive: true, force: true });
        note('recovered an empty deploy lock (a deploy was killed as it started)');
        continue;
      }
    } else if (!alive(owner.pid, owner.start)) {
      fs.rmSync(LOCK, { recursive: true, force: true });
      note(`recovered a stale deploy lock: ${owner.who} started "${owner.what}" at ${owner.at} and was killed before it finished`);
      return owner;
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

function release() {
  const owner = readOwner();
  if (owner && owner.pid === process.pid) fs.rmSync(LOCK, { recursive: true, force: true });
}

module.exports = { acquire, release, LOCK };
