/**
 * A release whose listings have the stamps they had when its digest was remembered has that digest:
 * a deploy where nothing changed takes no hash of its files (listRelease). The digest is always the
 * manifest's, and a record is made only when every hash in the release is trusted.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releaseFiles } from '../../lib/deploy/file-list';
import { HashCache, hashCacheFile, SETTLE_MS } from '../../lib/deploy/hash-cache';
import { listRelease } from '../../lib/deploy/release-listing';
import { inspectServiceFolder, ReleaseSpec } from '../../lib/deploy/service-folder';
import { manifestDigest } from '../../lib/protocol';

const LATER = SETTLE_MS + 3000;
let work: string;
let app: string;
let spec: ReleaseSpec;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'portside-release-listing-'));
  app = join(work, 'app');
  // The course's shape: the built front end (dist/) served under public/, the back end in service/.
  mkdirSync(join(app, 'dist', 'assets'), { recursive: true });
  mkdirSync(join(app, 'service'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', scripts: { build: 'vite build' } }));
  writeFileSync(join(app, 'service', 'package.json'), JSON.stringify({ name: 'service', main: 'index.js' }));
  writeFileSync(join(app, 'service', 'index.js'), 'require("http").createServer().listen(process.argv[2]);\n');
  writeFileSync(join(app, 'dist', 'index.html'), '<p>one</p>\n');
  for (let i = 0; i < 20; i++) writeFileSync(join(app, 'dist', 'assets', `f${i}.js`), `export const n = ${i};\n`);
  spec = inspectServiceFolder(app);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const cacheAt = (ahead: number): HashCache => new HashCache(hashCacheFile({ PORTSIDE_HOME: join(work, 'home') }, app), () => Date.now() + ahead, app);
const cacheDir = (): string => join(work, 'home', 'file-hashes');
const records = (c: HashCache): string[] => {
  const dir = c.file.replace(/\.tsv$/, '.listings');
  return existsSync(dir) ? readdirSync(dir).map((name) => readFileSync(join(dir, name), 'latin1').split('\n')[0]).sort() : [];
};
/** One deploy's listing: the release listed, everything listed, the cache saved. */
async function deployListing(c: HashCache): Promise<Awaited<ReturnType<typeof listRelease>>> {
  const l = await listRelease(spec.sources, c);
  c.listedEverything();
  c.save();
  return l;
}

test('the digest is the manifest\'s, the first time and when taken from the record', async () => {
  expect(spec.sources.length).toBe(2);
  const truth = manifestDigest(await releaseFiles(spec.sources));
  const first = await deployListing(cacheAt(LATER));
  expect(first.digest).toBe(truth);
  expect(records(cacheAt(LATER))).toContain('portside release digest v1');
  const second = await deployListing(cacheAt(LATER));
  expect(second.digest).toBe(truth);
  expect(manifestDigest(await second.files())).toBe(truth);
});

test('an unchanged release takes no hash of its files: with every per-file hash and listing record gone, none is made again', async () => {
  const truth = (await deployListing(cacheAt(LATER))).digest;
  // Keep only the release's record: were any file hashed, its hash would be remembered again.
  for (const name of readdirSync(cacheDir())) if (name.endsWith('.tsv')) rmSync(join(cacheDir(), name));
  const c = cacheAt(LATER);
  const recordDir = c.file.replace(/\.tsv$/, '.listings');
  for (const name of readdirSync(recordDir)) if (!readFileSync(join(recordDir, name), 'latin1').startsWith('portside release digest v1\n')) rmSync(join(recordDir, name));
  expect((await deployListing(c)).digest).toBe(truth);
  expect(readdirSync(cacheDir()).filter((name) => name.endsWith('.tsv'))).toEqual([]);
  expect(records(cacheAt(LATER))).toEqual(['portside release digest v1']);
});

test('a changed file, front end or back end, gives the changed release\'s digest, not the remembered one', async () => {
  const before = (await deployListing(cacheAt(LATER))).digest;
  writeFileSync(join(app, 'dist', 'assets', 'f3.js'), 'export const n = 33;\n');
  const front = (await deployListing(cacheAt(LATER))).digest;
  expect(front).not.toBe(before);
  expect(front).toBe(manifestDigest(await releaseFiles(spec.sources)));
  writeFileSync(join(app, 'service', 'index.js'), '// one line\nrequire("http").createServer().listen(process.argv[2]);\n');
  const back = (await deployListing(cacheAt(LATER))).digest;
  expect(back).toBe(manifestDigest(await releaseFiles(spec.sources)));
  expect(back).not.toBe(front);
});

test('no release digest is remembered while a hash in it is not trusted (a file changed just now)', async () => {
  const l = await deployListing(cacheAt(0));
  expect(l.digest).toBe(manifestDigest(await releaseFiles(spec.sources)));
  expect(records(cacheAt(0))).not.toContain('portside release digest v1');
});

test('a release taken by its digest keeps its listings\' records through a complete save', async () => {
  await deployListing(cacheAt(LATER));
  const before = records(cacheAt(LATER));
  expect(before.filter((h) => h === 'portside listing hashes v1').length).toBe(2);
  await deployListing(cacheAt(LATER));
  expect(records(cacheAt(LATER))).toEqual(before);
});

test('files made later than a digest taken from its record must be that digest\'s: a file changed in between is refused, never sent under it', async () => {
  await deployListing(cacheAt(LATER));
  const c = cacheAt(LATER);
  const l = await listRelease(spec.sources, c);
  // Nothing remembered any more, and a file edited after the listing: making the files hashes it as it is now.
  for (const name of readdirSync(cacheDir())) rmSync(join(cacheDir(), name), { recursive: true, force: true });
  writeFileSync(join(app, 'dist', 'index.html'), '<p>edited while deploying</p>\n');
  await expect(l.files()).rejects.toThrow(/changed while this deploy was listing them/);
});
