import { resolve } from 'node:path';
import { UserError } from '../errors';
import { manifestDigest } from '../protocol';
import { listSources, manifestOfSources, MAX_RELEASE_BYTES, ReleaseFile, ReleaseSource } from './file-list';
import type { HashCache } from './hash-cache';

/** A release as listed for a deploy: its digest now, its files (their manifest) when asked for. */
export interface ReleaseListing {
  /** The release's manifest digest (manifestDigest), what the agent compares with its current release. */
  readonly digest: string;
  /** The release's files; made at the first call (a deploy where nothing changed may never ask). */
  files(): Promise<readonly ReleaseFile[]>;
}

/**
 * List a release's source folders and find its digest. A release whose listings have the stamps they
 * had when its digest was remembered, every hash in them trusted, has that digest (HashCache.releaseDigest):
 * no hash of its 5,000 files is taken, no manifest made (~15 ms of a nothing-changed deploy). Otherwise
 * the manifest is made, and its digest remembered when every hash in it is trusted.
 */
export async function listRelease(sources: readonly ReleaseSource[], hashes?: HashCache): Promise<ReleaseListing> {
  const listed = await listSources(sources, hashes);
  let made: Promise<ReleaseFile[]> | undefined;
  const files = (): Promise<ReleaseFile[]> => (made ??= manifestOfSources(listed, hashes));
  const parts = listed.map(({ source, files: f }) => ({ dir: resolve(source.dir), prefix: source.prefix, skipPrefix: source.skipPrefix, files: f }));
  const key = hashes?.releaseKey(parts);
  // A release over the size limit is never remembered; the total is checked again, as the limit may be another version's.
  const size = listed.reduce((n, l) => n + l.files.reduce((m, f) => m + f.size, 0), 0);
  const known = key !== undefined && size <= MAX_RELEASE_BYTES ? hashes!.releaseDigest(key, parts.map((p) => p.files)) : undefined;
  if (known !== undefined) return { digest: known, files: () => sameAs(known, files()) };
  const digest = manifestDigest(await files());
  if (key !== undefined) hashes!.rememberRelease(key, parts.map((p) => p.files), digest);
  return { digest, files };
}

/**
 * The files of a release whose digest was taken from its record, made later (when the plan needs them):
 * refused unless they are what that digest says. A file changed since the listing (or a folder rewritten
 * since: see deployService's rebuild) must never be sent, or kept, under the digest of what was listed.
 */
async function sameAs(digest: string, made: Promise<ReleaseFile[]>): Promise<ReleaseFile[]> {
  const files = await made;
  if (manifestDigest(files) !== digest) {
    throw new UserError('the app\'s files changed while this deploy was listing them', 'Nothing was changed on the server: deploy again once your editor or build has finished writing.');
  }
  return files;
}
