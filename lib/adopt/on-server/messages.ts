/**
 * The wire between `portside adopt` (the CLI) and the adopt run on the server (dist/server/adopt.js,
 * lib/adopt/on-server/main.ts): one JSON object per line both ways (lib/protocol's framing), typed
 * once here and imported by both sides. Pure: types and constants only.
 *
 * CLI → server: a header (`adopt` or `undo`), then for adopt the plan (or `abort`), and a `beat`
 * every BEAT_MS for as long as the CLI is there. The server reads the CLI as gone when its stdin ends
 * (the CLI was killed, the connection closed) or when no line came for CLIENT_SILENT_MS (a connection
 * that hangs without closing).
 * Server → CLI: `said` lines as the run goes (step announcements among them), `previous` (the log of
 * an earlier run that lost its CLI), `ready` once it holds the lock, and one `result` last.
 */
import type { AdoptPlan } from '../plan-types';

/** How often the CLI says it is still there. */
export const BEAT_MS = 1000;
/** No line from the CLI for this long: it is gone (a hung connection never closes by itself). */
export const CLIENT_SILENT_MS = 8000;
/** The log of the last adopt or undo run, in the deploy user's home; outside ~/.portside, which a put-back server must not have. */
export const ADOPT_LOG = '.portside-adopt.log';

/** The first line: which run. `fault` is a test hook only (see FaultHook). */
export type RunHeader =
  | { readonly type: 'adopt'; readonly who: string; readonly fault?: FaultHook }
  | { readonly type: 'undo'; readonly who: string; readonly node: string; readonly pm2Bin: string; readonly caddy: string; readonly home: string; readonly discardDeploys: boolean };

/**
 * Tests only (set through the CLI's environment, PORTSIDE_ADOPT_TEST_CADDY_REFUSES=<step>): the
 * Caddyfile adopt loads at that step gains a directive Caddy does not know, so the real Caddy refuses it.
 */
export interface FaultHook {
  readonly caddyRefusesAtStep: number;
}

/** What the CLI sends after the header. */
export type ClientLine =
  | { readonly type: 'plan'; readonly plan: AdoptPlan }
  | { readonly type: 'abort' }
  | { readonly type: 'beat' };

/** What the server sends. */
export type RunLine =
  | { readonly type: 'said'; readonly text: string }
  /** The agent's lock writes notes (waiting for a deploy, a stale lock recovered). */
  | { readonly type: 'note'; readonly text: string }
  | { readonly type: 'previous'; readonly lines: readonly string[] }
  /** The lock is held; `changed`: the server changed meanwhile (waited for another run, or put back a dead run's adoption): read it again. */
  | { readonly type: 'ready'; readonly changed: boolean }
  | { readonly type: 'result'; readonly ok: boolean; readonly outcome?: unknown; readonly error?: string; readonly detail?: string };
