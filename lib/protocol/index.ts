/**
 * The wire between the CLI and the agent: message types, framing and the list of steps. Imported by
 * both sides (lib/deploy/agent-client.ts and lib/agent), so tsc checks one against the other.
 */
export * from './messages';
export * from './framing';
export * from './steps';
export * from './release-id';
export * from './manifest-digest';
