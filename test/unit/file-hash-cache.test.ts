import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildManifest, listFiles } from '../../lib/deploy/file-list';
import { HashCache, SETTLE_MS } from '../../lib/deploy/hash-cache';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const LATER = SETTLE_MS + 3000;

let work: string;
let site: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'portside-hashes-'));
  site = join(work, 'site');
  mkdirSync(site);
});

/** A cache whose clock runs `ahead` ms ahead of the real one (as if the deploy ran that much later). */
const cacheAt = (ahead = 0): HashCache => new HashCache(join(work, 'state', 'file-hashes.json'), () => Date.now() + ahead);
const hashesOf = async (cache?: HashCache): Promise<Record<string, string>> =>
  Object.fromEntries((await buildManifest(listFiles(site), cache)).map((f) => [f.p, f.h]));

describe('file hash cache', () => {
  test('a file whose inode, size, mtime and ctime are unchanged is not read again', async () => {
    writeFileSync(join(site, 'a.txt'), 'hello');
    const cache = cacheAt(LATER);
    // A remembered hash that is not the content's: if the file were read, the real hash would show.
    cache.remember(join(site, 'a.txt'), statSync(join(site, 'a.txt')), 'f'.repeat(64), Date.now() + LATER);
    expect(await hashesOf(cache)).toEqual({ 'a.txt': 'f'.repeat(64) });
  });

  test('a changed file with the same size and the same mtime (to the second and below) is detected', async () => {
    const file = join(site, 'a.txt');
    const second = Math.floor(Date.now() / 1000) - 10; // a whole second: what a coarse file system keeps
    writeFileSync(file, 'hello');
    utimesSync(file, second, second);
    const before = statSync(file);
    const cache = cacheAt(LATER);
    expect(await hashesOf(cache)).toEqual({ 'a.txt': sha('hello') });
    expect(cache.size).toBe(1);
    writeFileSync(file, 'jello');
    utimesSync(file, second, second);
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(file).size).toBe(before.size);
    expect(await hashesOf(cache)).toEqual({ 'a.txt': sha('jello') });
  });

  test('a file replaced by another of the same size and mtime (a new inode) is detected', async () => {
    const file = join(site, 'a.txt');
    const second = Math.floor(Date.now() / 1000) - 10;
    writeFileSync(file, 'hello');
    utimesSync(file, second, second);
    const cache = cacheAt(LATER);
    await hashesOf(cache);
    writeFileSync(join(work, 'b.txt'), 'world');
    utimesSync(join(work, 'b.txt'), second, second);
    renameSync(join(work, 'b.txt'), file);
    expect(await hashesOf(cache)).toEqual({ 'a.txt': sha('world') });
  });

  test(`a hash taken within ${SETTLE_MS} ms of the file's last change is used once, never remembered`, async () => {
    // On a file system with one-second times, a second write of the same size in the same second
    // leaves mtime and ctime as they were: only a hash taken well after the last change is safe.
    writeFileSync(join(site, 'fresh.txt'), 'just written');
    const now = cacheAt(0);
    expect(await hashesOf(now)).toEqual({ 'fresh.txt': sha('just written') });
    expect(now.size).toBe(0);
    const st = statSync(join(site, 'fresh.txt'));
    now.remember(join(site, 'fresh.txt'), st, sha('x'), Math.max(st.mtimeMs, st.ctimeMs) + SETTLE_MS);
    expect(now.size).toBe(0);
    const later = cacheAt(LATER);
    await hashesOf(later);
    expect(later.size).toBe(1);
  });

  test('hashes survive a save and a new process; a corrupt cache file is an empty cache', async () => {
    writeFileSync(join(site, 'a.txt'), 'hello');
    const first = cacheAt(LATER);
    await hashesOf(first);
    first.save();
    const second = cacheAt(LATER);
    expect(second.size).toBe(1);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    writeFileSync(first.file, '{"version":1,"entries":');
    expect(cacheAt(LATER).size).toBe(0);
    expect(await hashesOf(cacheAt(LATER))).toEqual({ 'a.txt': sha('hello') });
  });

  test('after a run that listed the whole app, the paths it did not look up are dropped; after any other run, kept', async () => {
    for (const name of ['a.txt', 'b.txt', 'c.txt']) writeFileSync(join(site, name), name);
    const first = cacheAt(LATER);
    await hashesOf(first);
    first.save();
    expect(cacheAt(LATER).size).toBe(3);
    const unlinked = join(work, 'gone');
    mkdirSync(unlinked);
    renameSync(join(site, 'c.txt'), join(unlinked, 'c.txt')); // no longer in the app
    // A run that did not say it listed everything (a dry run, a failed listing) drops nothing.
    const partial = cacheAt(LATER);
    await hashesOf(partial);
    partial.save();
    expect(cacheAt(LATER).size).toBe(3);
    const whole = cacheAt(LATER);
    await hashesOf(whole);
    whole.listedEverything();
    whole.save();
    const after = cacheAt(LATER);
    expect(after.size).toBe(2);
    // What stayed is still trusted: the files are not read again.
    expect(after.lookup(join(site, 'a.txt'), statSync(join(site, 'a.txt')))).toBe(sha('a.txt'));
    expect(after.lookup(join(unlinked, 'c.txt'), statSync(join(unlinked, 'c.txt')))).toBeUndefined();
  });

  test('without a cache every file is hashed, as before', async () => {
    writeFileSync(join(site, 'a.txt'), 'hello');
    writeFileSync(join(site, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    expect(await hashesOf()).toEqual({ 'a.txt': sha('hello'), 'big.bin': createHash('sha256').update(Buffer.alloc(3 * 1024 * 1024, 7)).digest('hex') });
  });
});
