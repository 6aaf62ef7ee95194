/** writeFileAtomic: whole or not at all, a new inode each time, the mode set exactly. */
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/fs/write-atomic';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'portside-atomic-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('the mode is the one asked for, whatever the umask', () => {
  const old = process.umask(0o077);
  try {
    writeFileAtomic(join(dir, 'a'), 'x', 0o644);
  } finally {
    process.umask(old);
  }
  expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o644);
  writeFileAtomic(join(dir, 'b'), 'y', 0o600);
  expect(statSync(join(dir, 'b')).mode & 0o777).toBe(0o600);
});

test('a file that shares its inode by a hard link is replaced, not written through (the other name keeps its text)', () => {
  writeFileSync(join(dir, 'old'), 'old text');
  linkSync(join(dir, 'old'), join(dir, 'new'));
  writeFileAtomic(join(dir, 'new'), 'new text');
  expect(readFileSync(join(dir, 'old'), 'utf8')).toBe('old text');
  expect(readFileSync(join(dir, 'new'), 'utf8')).toBe('new text');
});

test('a failed write throws, leaves the old file as it was and no temporary file', () => {
  writeFileSync(join(dir, 'f'), 'before');
  // A folder in the file's place: the rename over it fails after the temporary file was written.
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'd', 'inside'), '');
  expect(() => writeFileAtomic(join(dir, 'd'), 'text')).toThrow();
  expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('before');
  expect(readdirSync(dir).sort()).toEqual(['d', 'f']);
});
