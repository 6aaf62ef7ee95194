/**
 * Ctrl-C owned by a command around the agent calls (a fleet rollout) instead of by each call's CtrlC.
 * Inside `interruptScope.run(scope, fn)`, an agent call made by `fn` does not listen for SIGINT itself:
 * when the scope says stop, it asks its agent to stop before the switch (as one Ctrl-C does on one
 * server) and then returns the agent's result as usual, so the command around it decides what follows.
 * NEVER_STOP shields calls that must finish whatever is pressed (putting a server back).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface InterruptScope {
  /** Call `ask` once a stop is wanted (at once if it already is); returns the function that stops listening. */
  onStop(ask: () => void): () => void;
}

/** A scope whose calls are never asked to stop. */
export const NEVER_STOP: InterruptScope = { onStop: () => () => undefined };

/** The scope of the agent calls made under `run` (Node's AsyncLocalStorage follows awaits and callbacks). */
export const interruptScope = new AsyncLocalStorage<InterruptScope>();
