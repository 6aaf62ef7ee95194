'use strict';
// Which release a rollback goes to. Plain `rollback` goes to the newest release the history knows other
// than the current one, so a second rollback returns to the release the first one left (like `cd -`):
// the CLI says so. `--to <id>` picks any release still on the server, checked against that list.
const fs = require('fs');
const path = require('path');
const rel = require('./releases');
const { AgentError } = require('./protocol');

/** Releases on the server a service can go back to, newest deploy first: [{ id, at }]. */
function rollbackCandidates(l, cur) {
  const seen = new Map();
  // Ordered by each release's latest time live (a Map keeps first-insertion order, so re-insert).
  for (const h of rel.readHistory(l)) {
    seen.delete(h.id);
    seen.set(h.id, h.at);
  }
  return [...seen].reverse()
    .filter(([id]) => id !== cur && fs.existsSync(path.join(l.dir(id), rel.MANIFEST)))
    .map(([id, at]) => ({ id, at }));
}

const listed = (candidates) => (candidates.length
  ? `Releases on the server (newest first): ${candidates.map((c) => `${c.id} (${c.at})`).join(', ')}`
  : 'There is no other release on the server.');

/** The release to roll back to: `to` when it is one of the candidates, else the newest other one. */
function pickTarget(name, l, cur, to) {
  const candidates = rollbackCandidates(l, cur);
  if (to !== undefined && to !== null) {
    if (to === cur) throw new AgentError(`release ${to} is already ${name}'s current release: nothing to roll back to`, listed(candidates), 'SAME_RELEASE');
    if (!candidates.some((c) => c.id === to)) throw new AgentError(`"${name}" has no release ${JSON.stringify(to)} on this server`, listed(candidates), 'NO_SUCH_RELEASE');
    return { target: to, candidates };
  }
  if (!candidates.length) throw new AgentError(`"${name}" has no earlier release on the server to roll back to (current: ${cur})`, undefined, 'NO_PREVIOUS');
  return { target: candidates[0].id, candidates };
}

module.exports = { rollbackCandidates, pickTarget };
