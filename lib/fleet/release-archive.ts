/**
 * A fleet's release as one archive: the same ustar stream the single-server deploy sends (tarStream),
 * of every file of the release, gzipped (zlib writes no time or name in its header), written once to a
 * temporary file while its sha256 is taken. Each
 * entry's time derives from the file's hash, so the same files always make the same bytes (and the
 * same name in the store), while a changed file still gets a new time (ETags built from size and
 * mtime, as express.static's are, change with it).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import type { ReleaseFile } from '../deploy/file-list';
import { TarEntry, tarStream } from '../deploy/tar-stream';

/** The archive on disk, its sha256 (its name in the store) and size; `remove` deletes it. */
export interface ReleaseArchive {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  remove(): void;
}

/** 2001-09-09 onwards: a fixed, plausible time, offset by the file's hash. */
const MTIME_BASE = 1_000_000_000;

/** An entry's time in the archive: the same for the same content, different for different content. */
export function archiveMtime(sha256: string): number {
  return MTIME_BASE + parseInt(sha256.slice(0, 7), 16);
}

/** Write the release's files (in the order given) to one archive and hash it on the way. */
export function buildReleaseArchive(files: readonly ReleaseFile[]): Promise<ReleaseArchive> {
  return buildArchive(files.map((f) => ({ path: f.p, source: f.source, size: f.s, mode: f.m, mtime: archiveMtime(f.h) })));
}

/** A gzipped ustar archive of `entries` in a temporary file, with its sha256 and size. */
export async function buildArchive(entries: readonly TarEntry[]): Promise<ReleaseArchive> {
  const dir = mkdtempSync(join(tmpdir(), 'portside-release-'));
  const path = join(dir, 'release.tar.gz');
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(tarStream(entries), createGzip(), tap, createWriteStream(path, { mode: 0o600 }));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { path, sha256: hash.digest('hex'), size, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
