// Which release a rollback goes to. Plain `rollback` goes to the newest release the history knows other
// than the current one, so a second rollback returns to the release the first one left (like `cd -`):
// the CLI says so. `--to <id>` picks any release still on the server, checked against that list.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from './protocol-io';
import { HistoryEntry, MANIFEST, readHistory, ReleaseLayout } from './releases';

/** A release a service can go back to. */
export interface Candidate {
  readonly id: string;
  /** When it last went live. */
  readonly at: string;
}

/**
 * The releases in a history other than `cur`, newest time live first, each once; `exists` says which
 * are still on the server. Pure.
 */
export function candidatesFrom(history: readonly HistoryEntry[], cur: string | null, exists: (id: string) => boolean): Candidate[] {
  const seen = new Map<string, string>();
  // Ordered by each release's latest time live (a Map keeps first-insertion order, so re-insert).
  for (const h of history) {
    seen.delete(h.id);
    seen.set(h.id, h.at);
  }
  return [...seen].reverse().filter(([id]) => id !== cur && exists(id)).map(([id, at]) => ({ id, at }));
}

/** Releases on the server a service can go back to, newest deploy first. */
export function rollbackCandidates(l: ReleaseLayout, cur: string | null): Candidate[] {
  return candidatesFrom(readHistory(l), cur, (id) => existsSync(join(l.dir(id), MANIFEST)));
}

const listed = (candidates: readonly Candidate[]): string => (candidates.length
  ? `Releases on the server (newest first): ${candidates.map((c) => `${c.id} (${c.at})`).join(', ')}`
  : 'There is no other release on the server.');

/** The release to roll back to: `to` when it is one of the candidates, else the newest other one. Pure. */
export function chooseTarget(name: string, cur: string, candidates: readonly Candidate[], to?: string | null): string {
  if (to !== undefined && to !== null) {
    if (to === cur) throw new AgentError(`release ${to} is already ${name}'s current release: nothing to roll back to`, listed(candidates), 'SAME_RELEASE');
    if (!candidates.some((c) => c.id === to)) throw new AgentError(`"${name}" has no release ${JSON.stringify(to)} on this server`, listed(candidates), 'NO_SUCH_RELEASE');
    return to;
  }
  if (!candidates.length) throw new AgentError(`"${name}" has no earlier release on the server to roll back to (current: ${cur})`, undefined, 'NO_PREVIOUS');
  return candidates[0].id;
}

/** The release to roll back to, and every candidate (for the CLI's list). */
export function pickTarget(name: string, l: ReleaseLayout, cur: string, to?: string | null): { target: string; candidates: Candidate[] } {
  const candidates = rollbackCandidates(l, cur);
  return { target: chooseTarget(name, cur, candidates, to), candidates };
}
