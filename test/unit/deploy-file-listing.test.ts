/**
 * One deploy lists and hashes each folder once: the build-skip check's listing of the build output is
 * the release manifest's (until a build rewrites the output), and the remembered hashes are one file
 * per service folder, so a deploy reads its own app's hashes and not every app's.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildManifest, listFiles, listFilesPausing, releaseFiles } from '../../lib/deploy/file-list';
import { HashCache, hashCacheFile, SETTLE_MS } from '../../lib/deploy/hash-cache';
import { buildIfNeeded } from '../../lib/deploy/local-build';
import { inspectServiceFolder } from '../../lib/deploy/service-folder';

let work: string;
let app: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'portside-listing-'));
  app = join(work, 'app');
  // A custom-shaped app: `npm run build` copies src/ to dist/, which the release serves under public/.
  mkdirSync(join(app, 'src'), { recursive: true });
  mkdirSync(join(app, 'node_modules')); // present: the build does not install anything first
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'app', scripts: { build: 'node build.js' },
    portside: { build: 'build', static: { from: 'dist', to: 'public' }, start: 'index.js' },
  }));
  writeFileSync(join(app, 'build.js'), "require('fs').cpSync('src', 'dist', { recursive: true });\n");
  writeFileSync(join(app, 'index.js'), 'require("http").createServer().listen(process.argv[2]);\n');
  writeFileSync(join(app, 'src', 'page.html'), '<p>one</p>\n');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const cacheIn = (folder: string, ahead = 0): HashCache => new HashCache(hashCacheFile({ PORTSIDE_HOME: join(work, 'home') }, folder), () => Date.now() + ahead);
const hashOf = (files: Awaited<ReturnType<typeof releaseFiles>>, p: string): string | undefined => files.find((f) => f.p === p)?.h;

describe('one listing per deploy', () => {
  test('the release files are what listing each source folder gives, the static output under its prefix', async () => {
    const spec = inspectServiceFolder(app);
    await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app));
    const byHand = await buildManifest(spec.sources.flatMap((s) => listFiles(s.dir, s.prefix, s.skipPrefix ? (r) => r.startsWith(s.skipPrefix!) : undefined)));
    const files = await releaseFiles(spec.sources, cacheIn(app));
    expect(files.map(({ p, h, s, m }) => ({ p, h, s, m }))).toEqual(byHand.map(({ p, h, s, m }) => ({ p, h, s, m })));
    expect(files.map((f) => f.p)).toContain('public/page.html');
  });

  test('the build-skip check\'s listing of the output is the manifest\'s: the output is listed and hashed once', async () => {
    const spec = inspectServiceFolder(app);
    await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app));
    const run = cacheIn(app);
    expect(await buildIfNeeded(spec, () => {}, false, '/', run)).toBe('skipped');
    const seenBySkipCheck = (await releaseFiles(spec.sources, cacheIn(app))).find((f) => f.p === 'public/page.html')!.h;
    // Changed after the skip check in the same run: the manifest is the run's one snapshot of the folder.
    writeFileSync(join(app, 'dist', 'page.html'), '<p>two</p>\n');
    expect(hashOf(await releaseFiles(spec.sources, run), 'public/page.html')).toBe(seenBySkipCheck);
    expect(hashOf(await releaseFiles(spec.sources, cacheIn(app)), 'public/page.html')).not.toBe(seenBySkipCheck);
  });

  test('a build rewrites the output: the manifest lists the new output, not the one seen before the build', async () => {
    const spec = inspectServiceFolder(app);
    await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app));
    const run = cacheIn(app);
    const before = hashOf(await releaseFiles(spec.sources, run), 'public/page.html');
    writeFileSync(join(app, 'src', 'page.html'), '<p>changed</p>\n');
    expect(await buildIfNeeded(spec, () => {}, false, '/', run)).toBe('built');
    const after = hashOf(await releaseFiles(spec.sources, run), 'public/page.html');
    expect(after).not.toBe(before);
    expect(after).toBe(hashOf(await releaseFiles(spec.sources), 'public/page.html'));
  });
});

describe("the build inputs' stamps, recorded with the last build", () => {
  const LATER = SETTLE_MS + 3000;
  const record = (): { inputs: string; output: string; inputsStamp?: string; outputStamp?: string } => JSON.parse(readFileSync(join(app, 'node_modules', '.cache', 'portside', 'build.json'), 'utf8'));
  const setRecord = (r: object): void => writeFileSync(join(app, 'node_modules', '.cache', 'portside', 'build.json'), JSON.stringify(r));

  test('inputs with the stamps recorded with the last digest have that digest: no manifest of them is made', async () => {
    const spec = inspectServiceFolder(app);
    expect(await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app, LATER))).toBe('built');
    expect(record().inputsStamp).toMatch(/^[0-9a-f]{64}$/);
    // A digest no manifest gives: only the recorded stamps can make the check take it.
    setRecord({ ...record(), inputs: 'f'.repeat(64) });
    expect(await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app, LATER))).toBe('skipped');
    writeFileSync(join(app, 'src', 'page.html'), '<p>one</p>\n'); // the same text, written again: a new ctime
    expect(await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app, LATER))).toBe('built');
  });

  test('no stamps are recorded while a hash is not trusted (a file changed just now); a later skip records them', async () => {
    const spec = inspectServiceFolder(app);
    expect(await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app))).toBe('built');
    expect(record().inputsStamp).toBeUndefined();
    expect(record().outputStamp).toBeUndefined();
    const later = cacheIn(app, LATER);
    expect(await buildIfNeeded(spec, () => {}, false, '/', later)).toBe('skipped');
    later.save();
    expect(record().inputsStamp).toMatch(/^[0-9a-f]{64}$/);
    expect(record().outputStamp).toMatch(/^[0-9a-f]{64}$/);
  });

  test('an output with the stamps recorded with its digest has that digest: no manifest of it is made; a rewritten output file is looked at', async () => {
    const spec = inspectServiceFolder(app);
    expect(await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app, LATER))).toBe('built');
    expect(record().outputStamp).toMatch(/^[0-9a-f]{64}$/);
    // A digest no manifest gives: only the recorded stamps can make the check take it.
    setRecord({ ...record(), output: 'e'.repeat(64) });
    expect(await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app, LATER))).toBe('skipped');
    writeFileSync(join(app, 'dist', 'page.html'), '<p>one</p>\n'); // the same text, written again: a new ctime
    expect(await buildIfNeeded(spec, () => {}, false, '/', cacheIn(app, LATER))).toBe('built');
  });

  test('a skip by stamps keeps the listings\' records and hashes through a complete save (a later change to one file takes the others whole)', async () => {
    const spec = inspectServiceFolder(app);
    const first = cacheIn(app, LATER);
    expect(await buildIfNeeded(spec, () => {}, false, '/', first)).toBe('built');
    first.save();
    const records = (): string[] => readdirSync(first.file.replace(/\.tsv$/, '.listings')).sort();
    const before = records();
    expect(before.length).toBe(2); // the inputs' listing and the output's
    const skip = cacheIn(app, LATER);
    expect(await buildIfNeeded(spec, () => {}, false, '/', skip)).toBe('skipped');
    skip.listedEverything();
    skip.save();
    expect(records()).toEqual(before);
  });
});

describe('a listing that pauses (the build-skip check runs while the CLI connects)', () => {
  test('lists what listFiles lists, in the same order, and lets other work run while it walks', async () => {
    for (let d = 0; d < 3; d++) {
      mkdirSync(join(app, 'src', `d${d}`));
      for (let i = 0; i < 300; i++) writeFileSync(join(app, 'src', `d${d}`, `f${i}.txt`), `${d}.${i}`);
    }
    let ranMeanwhile = 0;
    const ticker = setInterval(() => ranMeanwhile++, 0);
    const tick = setImmediate(() => ranMeanwhile++);
    const pausing = await listFilesPausing(app, 'x/', (r) => r === 'build.js');
    clearInterval(ticker);
    clearImmediate(tick);
    expect(pausing).toEqual(listFiles(app, 'x/', (r) => r === 'build.js'));
    expect(pausing.map((f) => f.path)).toContain('x/src/d2/f299.txt');
    expect(pausing.map((f) => f.path)).not.toContain('x/build.js');
    // 900 files: the walk paused at least three times, and what was waiting ran in between.
    expect(ranMeanwhile).toBeGreaterThanOrEqual(2);
  });
});

describe('the listing\'s order', () => {
  test('names in code-unit order at every level, whatever the locale would say (upper case before lower, "a-b" before "a.b" before "a_b")', () => {
    for (const name of ['b.txt', 'B.txt', 'a_b', 'a.b', 'a-b', 'é.txt', 'e.txt']) writeFileSync(join(app, 'src', name), name);
    mkdirSync(join(app, 'src', 'Z'));
    writeFileSync(join(app, 'src', 'Z', 'z'), 'z');
    const names = listFiles(join(app, 'src')).map((f) => f.path);
    expect(names).toEqual(['B.txt', 'Z/z', 'a-b', 'a.b', 'a_b', 'b.txt', 'e.txt', 'page.html', 'é.txt']);
  });
});

describe('remembered hashes: one file per service folder', () => {
  test('two folders keep their hashes in two files under PORTSIDE_HOME/file-hashes/', () => {
    const env = { PORTSIDE_HOME: join(work, 'home') };
    expect(hashCacheFile(env, '/a/app')).not.toBe(hashCacheFile(env, '/b/app'));
    expect(hashCacheFile(env, '/a/app')).toBe(hashCacheFile(env, '/a/app'));
    expect(hashCacheFile(env, '/a/app').startsWith(join(work, 'home', 'file-hashes') + '/')).toBe(true);
  });

  test('a save removes the single cache file of earlier versions (it had grown to 12 MB)', async () => {
    mkdirSync(join(work, 'home'), { recursive: true });
    writeFileSync(join(work, 'home', 'file-hashes.json'), '{"version":1,"entries":{}}');
    const cache = cacheIn(app, SETTLE_MS + 3000);
    await buildManifest(listFiles(join(app, 'src')), cache);
    cache.save();
    expect(existsSync(join(work, 'home', 'file-hashes.json'))).toBe(false);
    expect(cacheIn(app).size).toBe(1);
    expect(statSync(cache.file).mode & 0o777).toBe(0o600);
  });

  test('a file whose path holds a tab is hashed every time, never remembered (it cannot be a line)', async () => {
    writeFileSync(join(app, 'src', 'a\tb.txt'), 'tab');
    const cache = cacheIn(app, SETTLE_MS + 3000);
    await buildManifest(listFiles(join(app, 'src')), cache);
    expect(cache.size).toBe(1); // page.html only
  });

  test('a damaged line is a miss (the file is read again), never a wrong hash', async () => {
    const cache = cacheIn(app, SETTLE_MS + 3000);
    const [right] = await buildManifest(listFiles(join(app, 'src')), cache);
    cache.save();
    writeFileSync(cache.file, readFileSync(cache.file, 'utf8').replace(right.h, 'not-a-hash'));
    const [again] = await buildManifest(listFiles(join(app, 'src')), cacheIn(app, SETTLE_MS + 3000));
    expect(again.h).toBe(right.h);
  });
});
