/**
 * The plan's diff (compareRelease in lib/deploy/deploy-service.ts): what the agent is told to keep,
 * receive and skip, from a baseline release and one change at a time.
 */
import { compareRelease, ReleaseComparison } from '../../lib/deploy/deploy-service';
import type { ReleaseFile } from '../../lib/deploy/file-list';
import type { CurrentRelease } from '../../lib/protocol';

const file = (p: string, h: string, m = 0o644): ReleaseFile => ({ p, h, s: h.length, m, source: `/src/${p}` });
const FILES = [file('index.js', 'i1'), file('package.json', 'p1'), file('package-lock.json', 'l1'), file('public/index.html', 'h1'), file('public/app.js', 'a1')];
const CURRENT: CurrentRelease = {
  id: 'r1',
  files: FILES.map(({ p, h, s, m }) => ({ p, h, s, m })),
  meta: { id: 'r1', start: { script: 'index.js' }, port: 3000, healthPath: '/', by: 't', at: 'now' },
};
const base = (over: Partial<ReleaseComparison> = {}): ReleaseComparison => ({
  files: FILES, current: CURRENT, start: { script: 'index.js' }, port: 3000, healthPath: '/', env: null, force: false, staticPrefixes: ['public/'], ...over,
});
const withFile = (p: string, h: string) => FILES.map((f) => (f.p === p ? file(p, h) : f));

describe('the plan diff', () => {
  test('the same files and settings: unchanged, nothing to send', () => {
    expect(compareRelease(base())).toMatchObject({ unchanged: true, send: [], lockfileChanged: false, staticOnly: false });
  });

  test('the current release given as this very listing (the agent left its files out for their digest): the same as comparing them', () => {
    const same = { ...CURRENT, files: FILES };
    expect(compareRelease(base({ current: same }))).toEqual(compareRelease(base()));
    expect(compareRelease(base({ current: same, force: true }))).toEqual(compareRelease(base({ force: true })));
    expect(compareRelease(base({ current: same, port: 3001 }))).toEqual(compareRelease(base({ port: 3001 })));
  });

  test('same files with --force: a new release, started without a probe (its code is the running one)', () => {
    expect(compareRelease(base({ force: true }))).toMatchObject({ unchanged: false, send: [], staticOnly: true });
  });

  test.each<[string, Partial<ReleaseComparison>]>([
    ['an env file', { env: 'A=1\n' }],
    ['another port', { port: 3001 }],
    ['another health path', { healthPath: '/health' }],
    ['another start', { start: { npmScript: 'start' } }],
  ])('same files but %s: not unchanged (the agent starts a new release)', (_what, over) => {
    const c = compareRelease(base(over));
    expect(c.unchanged).toBe(false);
    expect(c.send).toEqual([]);
    expect(c.staticOnly).toBe(false);
  });

  test('one back-end file changed: only it is sent, the rest kept; the probe runs', () => {
    const c = compareRelease(base({ files: withFile('index.js', 'i2') }));
    expect(c.send.map((f) => f.p)).toEqual(['index.js']);
    expect(c.keep).toEqual(['package.json', 'package-lock.json', 'public/index.html', 'public/app.js']);
    expect(c).toMatchObject({ unchanged: false, staticOnly: false, lockfileChanged: false });
  });

  test('only built front-end files changed: staticOnly (no probe)', () => {
    expect(compareRelease(base({ files: withFile('public/app.js', 'a2') }))).toMatchObject({ staticOnly: true, unchanged: false });
  });

  test('a front-end file removed is a front-end change too', () => {
    expect(compareRelease(base({ files: FILES.filter((f) => f.p !== 'public/app.js') }))).toMatchObject({ staticOnly: true });
  });

  test('a changed mode is a change (sent again)', () => {
    expect(compareRelease(base({ files: FILES.map((f) => (f.p === 'index.js' ? file('index.js', 'i1', 0o755) : f)) })).send.map((f) => f.p)).toEqual(['index.js']);
  });

  test('the lockfile decides whether dependencies change; without one, package.json does', () => {
    expect(compareRelease(base({ files: withFile('package-lock.json', 'l2') }))).toMatchObject({ lockfileChanged: true, staticOnly: false });
    expect(compareRelease(base({ files: withFile('package.json', 'p2') })).lockfileChanged).toBe(false);
    const noLock = FILES.filter((f) => f.p !== 'package-lock.json');
    const current = { ...CURRENT, files: CURRENT.files!.filter((f) => f.p !== 'package-lock.json') };
    expect(compareRelease(base({ files: noLock.map((f) => (f.p === 'package.json' ? file('package.json', 'p2') : f)), current })).lockfileChanged).toBe(true);
  });

  test('a first deploy: everything is sent, nothing is static-only', () => {
    const c = compareRelease(base({ current: { id: null, files: null, meta: null } }));
    expect(c.send).toHaveLength(FILES.length);
    expect(c).toMatchObject({ unchanged: false, staticOnly: false, lockfileChanged: true });
  });
});
