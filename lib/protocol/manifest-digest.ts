import { createHash } from 'node:crypto';
import type { WireFile } from './messages';

/**
 * One SHA-256 over a release's files (path, content hash, size, mode), whatever their order: the CLI
 * sends it for the release it is about to plan, and the agent records it beside each release's
 * manifest (RELEASE_SUMMARY), so that "same files as the running release" is one comparison, not a
 * 5,000-entry manifest read on the server, sent over SSH and parsed by the CLI. One definition for both.
 * A path cannot hold a NUL byte, so each line sorts by its path.
 */
export function manifestDigest(files: readonly WireFile[]): string {
  return createHash('sha256').update(files.map((f) => `${f.p}\0${f.h}\0${f.s}\0${f.m}\n`).sort().join('')).digest('hex');
}
