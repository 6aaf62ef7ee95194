import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
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
afterEach(() => rmSync(work, { recursive: true, force: true }));

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
    // An unchanged listing is taken whole (ListingHashes) and the per-file hashes are not even read: they
    // are pruned by the next complete run that reads them, here because b.txt changed.
    writeFileSync(join(site, 'b.txt'), 'b, again');
    const whole = cacheAt(LATER);
    await hashesOf(whole);
    whole.listedEverything();
    whole.save();
    const after = cacheAt(LATER);
    expect(after.size).toBe(2);
    // What stayed is still trusted: the files are not read again.
    expect(after.lookup(join(site, 'a.txt'), statSync(join(site, 'a.txt')))).toBe(sha('a.txt'));
    expect(after.lookup(join(site, 'b.txt'), statSync(join(site, 'b.txt')))).toBe(sha('b, again'));
    expect(after.lookup(join(unlinked, 'c.txt'), statSync(join(unlinked, 'c.txt')))).toBeUndefined();
  });

  describe('whole listings', () => {
    const FAKE = 'f'.repeat(64);
    /** a.txt (old enough to be trusted) and b.txt; a.txt's remembered hash is FAKE: it shows where a hash came from. */
    const plant = (cache: HashCache): void => {
      const old = Math.floor(Date.now() / 1000) - 60;
      for (const name of ['a.txt', 'b.txt']) {
        writeFileSync(join(site, name), name);
        utimesSync(join(site, name), old, old);
      }
      cache.remember(join(site, 'a.txt'), statSync(join(site, 'a.txt')), FAKE, Date.now() + LATER);
    };
    /** Break the per-file cache: from now on, only a remembered listing can give a.txt the FAKE hash. */
    const breakPerFile = (cache: HashCache): void => writeFileSync(cache.file, 'portside file hashes v2\nnot a line\n');

    test('an unchanged listing takes all its hashes at once, without the per-file cache', async () => {
      const first = cacheAt(LATER);
      plant(first);
      expect(await hashesOf(first)).toEqual({ 'a.txt': FAKE, 'b.txt': sha('b.txt') });
      first.save();
      breakPerFile(first);
      expect(await hashesOf(cacheAt(LATER))).toEqual({ 'a.txt': FAKE, 'b.txt': sha('b.txt') });
      const records = first.file.replace(/(\.tsv)?$/, '.listings');
      expect(statSync(records).mode & 0o777).toBe(0o700);
      expect(readdirSync(records).map((name) => statSync(join(records, name)).mode & 0o777)).toEqual([0o600]);
    });

    test('a file changed, added or removed is a new listing: read again, never the remembered one', async () => {
      const first = cacheAt(LATER);
      plant(first);
      await hashesOf(first);
      first.save();
      breakPerFile(first);
      const mtime = statSync(join(site, 'a.txt')).mtime;
      writeFileSync(join(site, 'a.txt'), 'A.txt'); // same size, same mtime: only ctime tells
      utimesSync(join(site, 'a.txt'), mtime, mtime);
      expect(await hashesOf(cacheAt(LATER))).toEqual({ 'a.txt': sha('A.txt'), 'b.txt': sha('b.txt') });

      const second = cacheAt(LATER);
      plant(second);
      await hashesOf(second);
      second.save();
      breakPerFile(second);
      writeFileSync(join(site, 'c.txt'), 'c');
      expect((await hashesOf(cacheAt(LATER)))['a.txt']).toBe(sha('a.txt'));
    });

    test('a listing with a hash the per-file rule does not trust (a file changed just now) is not remembered', async () => {
      const now = cacheAt(0);
      plant(now);
      writeFileSync(join(site, 'b.txt'), 'b, just now');
      expect(await hashesOf(now)).toEqual({ 'a.txt': FAKE, 'b.txt': sha('b, just now') });
      now.save();
      breakPerFile(now);
      expect((await hashesOf(cacheAt(0)))['a.txt']).toBe(sha('a.txt'));
    });

    test('a complete run keeps only the listings it used; any other run keeps the older ones too', async () => {
      const records = (c: HashCache): string[] => readdirSync(c.file.replace(/(\.tsv)?$/, '.listings'));
      const first = cacheAt(LATER);
      plant(first);
      await hashesOf(first);
      first.save();
      const [r1] = records(first);
      writeFileSync(join(site, 'c.txt'), 'c');
      const partial = cacheAt(LATER);
      await hashesOf(partial);
      partial.save();
      expect(records(partial)).toHaveLength(2);
      const whole = cacheAt(LATER);
      await hashesOf(whole);
      whole.listedEverything();
      whole.save();
      expect(records(whole)).toHaveLength(1);
      expect(records(whole)).not.toContain(r1);
    });

    test("a complete run that reads the per-file cache keeps the lines of the listings it took whole", async () => {
      const other = join(work, 'other');
      mkdirSync(other);
      writeFileSync(join(other, 'x.txt'), 'x');
      utimesSync(join(other, 'x.txt'), Date.now() / 1000 - 60, Date.now() / 1000 - 60);
      const first = cacheAt(LATER);
      plant(first);
      await hashesOf(first);
      await buildManifest(listFiles(other), first);
      first.save();
      writeFileSync(join(other, 'x.txt'), 'x, changed'); // this listing misses: the per-file cache is read
      const second = cacheAt(LATER);
      await hashesOf(second);
      await buildManifest(listFiles(other), second);
      second.listedEverything();
      second.save();
      rmSync(second.file.replace(/(\.tsv)?$/, '.listings'), { recursive: true });
      expect((await hashesOf(cacheAt(LATER)))['a.txt']).toBe(FAKE);
    });
  });

  describe('one file per top-level folder of the app', () => {
    const APP = 'a'.repeat(24);
    const state = (): string => join(work, 'state');
    const inApp = (ahead = LATER): HashCache => new HashCache(join(state(), `${APP}.tsv`), () => Date.now() + ahead, realpathSync(site));
    const shardFiles = (): string[] => readdirSync(state()).filter((n) => n.endsWith('.tsv')).sort();

    test("a change in one folder reads and writes that folder's hashes only", async () => {
      for (const dir of ['front', 'back']) mkdirSync(join(site, dir));
      for (let i = 0; i < 3; i++) writeFileSync(join(site, 'front', `f${i}.txt`), `front ${i}`);
      writeFileSync(join(site, 'back', 'index.js'), 'v1');
      writeFileSync(join(site, 'package.json'), '{}');
      const first = inApp();
      await buildManifest(listFiles(site), first);
      first.save();
      expect(shardFiles()).toHaveLength(3); // the app's own files, front/, back/
      const before = new Map(shardFiles().map((n) => [n, readFileSync(join(state(), n), 'utf8')]));
      const front = [...before].find(([, text]) => text.includes('f0.txt'))![0];
      writeFileSync(join(state(), front), 'portside file hashes v2\n'); // were it read, f0.txt would be hashed again and written back
      writeFileSync(join(site, 'back', 'index.js'), 'v2');
      const second = inApp();
      expect((await buildManifest(listFiles(join(site, 'back')), second)).map((f) => f.h)).toEqual([sha('v2')]);
      second.save();
      expect(readFileSync(join(state(), front), 'utf8')).toBe('portside file hashes v2\n');
      const back = [...before].find(([, text]) => text.includes('index.js'))![0];
      expect(readFileSync(join(state(), back), 'utf8')).toContain(sha('v2'));
      expect(readFileSync(join(state(), back), 'utf8')).not.toContain(sha('v1'));
    });

    test("a cache of one file (as the last version wrote it) gives way to one per folder: a complete run drops the other folders' lines, hashed once more", async () => {
      mkdirSync(join(site, 'front'));
      writeFileSync(join(site, 'front', 'f.txt'), 'f');
      writeFileSync(join(site, 'package.json'), '{}');
      const single = new HashCache(join(state(), `${APP}.tsv`), () => Date.now() + LATER);
      await hashesOf(single);
      single.save();
      expect(shardFiles()).toEqual([`${APP}.tsv`]);
      writeFileSync(join(site, 'package.json'), '{"v":2}'); // a miss: the first file is read
      const split = inApp();
      await hashesOf(split);
      split.listedEverything();
      split.save();
      expect(shardFiles()).toHaveLength(2);
      expect(readFileSync(join(state(), `${APP}.tsv`), 'utf8')).not.toContain('f.txt');
      rmSync(join(state(), `${APP}.listings`), { recursive: true });
      writeFileSync(join(state(), `${APP}.tsv`), 'portside file hashes v2\n');
      const after = inApp();
      expect(after.lookup(realpathSync(join(site, 'front', 'f.txt')), statSync(join(site, 'front', 'f.txt')))).toBe(sha('f'));
    });

    test('an app redeployed unchanged for a month, from its listings alone, keeps its cache', async () => {
      writeFileSync(join(site, 'a.txt'), 'a');
      const old = Date.now() / 1000 - 31 * 24 * 3600;
      const first = inApp();
      await hashesOf(first);
      first.save();
      const records = join(state(), `${APP}.listings`);
      for (const name of [...readdirSync(state()).map((n) => join(state(), n)), ...readdirSync(records).map((n) => join(records, n))]) utimesSync(name, old, old);
      const taken = inApp(); // a month later: the listing is taken whole and touched, no per-file file is written
      await hashesOf(taken);
      taken.save();
      const other = new HashCache(join(state(), `${'b'.repeat(24)}.tsv`), () => Date.now() + LATER);
      other.remember(join(site, 'a.txt'), statSync(join(site, 'a.txt')), sha('a'), Date.now() + LATER);
      other.save(); // its save removes stale apps' files
      expect(readdirSync(state()).sort()).toEqual([`${APP}.listings`, `${APP}.tsv`, `${'b'.repeat(24)}.tsv`]);
    });

    test('a file that vanishes or a broken link in the cache folder does not fail the save', async () => {
      mkdirSync(state(), { recursive: true });
      symlinkSync(join(work, 'nowhere'), join(state(), 'c'.repeat(24) + '.tsv'));
      writeFileSync(join(site, 'a.txt'), 'a');
      const cache = inApp();
      await hashesOf(cache);
      expect(() => cache.save()).not.toThrow();
      expect(readdirSync(state())).toContain(`${APP}.tsv`);
    });

    test("an app's files are removed together, when the newest of them is unused for 30 days", async () => {
      mkdirSync(state(), { recursive: true });
      const old = Date.now() / 1000 - 31 * 24 * 3600;
      const other = 'b'.repeat(24);
      for (const name of [`${APP}.0123456789ab.tsv`, `${other}.tsv`, `${other}.0123456789ab.tsv`]) {
        writeFileSync(join(state(), name), 'x');
        utimesSync(join(state(), name), old, old);
      }
      mkdirSync(join(state(), `${other}.listings`));
      utimesSync(join(state(), `${other}.listings`), old, old);
      writeFileSync(join(site, 'a.txt'), 'a');
      const cache = inApp();
      await hashesOf(cache);
      cache.save();
      expect(readdirSync(state()).sort()).toEqual([`${APP}.0123456789ab.tsv`, `${APP}.listings`, `${APP}.tsv`]);
    });
  });

  test('without a cache every file is hashed, as before', async () => {
    writeFileSync(join(site, 'a.txt'), 'hello');
    writeFileSync(join(site, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    expect(await hashesOf()).toEqual({ 'a.txt': sha('hello'), 'big.bin': createHash('sha256').update(Buffer.alloc(3 * 1024 * 1024, 7)).digest('hex') });
  });
});
