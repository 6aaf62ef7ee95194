// Types for caddyfile-blocks.js (plain JavaScript, shipped to the server with the agent).

/** One top-level block of a Caddyfile. */
export interface CaddyBlock {
  /** Its addresses, sorted and space-separated; '' for the global options block. */
  readonly key: string;
  /** The text before its opening brace, comments left out. */
  readonly header: string;
  /** Verbatim, from the comment lines above it to its closing brace. */
  readonly text: string;
}

export function splitBlocks(text: string): CaddyBlock[];
export function blockKey(header: string): string;
export const OWN_COMMENTS: RegExp[];
