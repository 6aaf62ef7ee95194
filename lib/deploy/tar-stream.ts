import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

/** One file to put in an archive: its path inside the archive, where to read it, its size and mode. */
export interface TarEntry {
  readonly path: string;
  readonly source: string;
  readonly size: number;
  readonly mode: number;
  /**
   * The entry's modification time (seconds). A fleet's release archive must be the same bytes for the
   * same files (it is named by its sha256), so it derives this from the file's hash. @default - now
   */
  readonly mtime?: number;
}

const BLOCK = 512;

/**
 * A POSIX ustar archive of regular files, produced as a stream (the release is never held in memory
 * or written to a temp file). Names longer than ustar allows get a PAX header. Directories are
 * implied by the paths; GNU tar creates them on extract.
 */
export function tarStream(entries: readonly TarEntry[]): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      const name = Buffer.from(e.path, 'utf8');
      const mtime = e.mtime ?? Math.floor(Date.now() / 1000);
      if (name.length > 100) yield* paxRecord(e.path, mtime);
      yield header(name.length > 100 ? name.subarray(0, 100) : name, e.size, e.mode & 0o7777, '0', mtime);
      let sent = 0;
      for await (const chunk of createReadStream(e.source)) {
        const buf = chunk as Buffer;
        sent += buf.length;
        if (sent > e.size) throw new Error(`${e.source} grew while it was being uploaded; deploy again`);
        yield buf;
      }
      if (sent !== e.size) throw new Error(`${e.source} changed size while it was being uploaded; deploy again`);
      const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
      if (pad) yield Buffer.alloc(pad);
    }
    yield Buffer.alloc(BLOCK * 2);
  }
  return Readable.from(generate(), { objectMode: false });
}

function* paxRecord(path: string, mtime: number): Generator<Buffer> {
  const body = record('path', path);
  yield header(Buffer.from('././@PaxHeader'), body.length, 0o644, 'x', mtime);
  yield body;
  const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
  if (pad) yield Buffer.alloc(pad);
}

/** A PAX record is "<length> key=value\n" where length counts itself. */
function record(key: string, value: string): Buffer {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest) + 1;
  while (String(len).length + Buffer.byteLength(rest) !== len) len++;
  return Buffer.from(`${len}${rest}`, 'utf8');
}

function header(name: Buffer, size: number, mode: number, type: string, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(' ', 148, 156);
  h.write(type, 156, 'ascii');
  h.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 8, sum);
  return h;
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}
