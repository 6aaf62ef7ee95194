// The server's deploy lock (lib/agent/lock.ts) on a real folder: a stale lock is recovered AND taken.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type LockModule = typeof import('../../lib/agent/lock');

let home: string;
let lock: LockModule;
let sent: string[];

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'portside-lock-'));
  // The lock's path is fixed when the module loads, from os.homedir() (which reads the real process's
  // HOME, not jest's copy of process.env): load it afresh for each test with homedir() → a temp folder.
  jest.isolateModules(() => {
    jest.doMock('node:os', () => ({ ...jest.requireActual('node:os'), homedir: () => home }));
    lock = require('../../lib/agent/lock');
  });
  sent = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { sent.push(String(chunk)); return true; });
});

afterEach(() => {
  jest.restoreAllMocks();
  jest.dontMock('node:os');
  rmSync(home, { recursive: true, force: true });
});

test('the lock lives in the temp home, never the real one', () => {
  expect(lock.LOCK.startsWith(home + '/')).toBe(true);
});

const owner = () => JSON.parse(readFileSync(join(lock.LOCK, 'owner.json'), 'utf8'));

test('a free lock is taken: owner.json names this process; release removes it', async () => {
  expect(await lock.acquire('me', 'deploy-service simon')).toBeNull();
  expect(owner()).toMatchObject({ who: 'me', what: 'deploy-service simon', pid: process.pid });
  lock.release();
  expect(existsSync(lock.LOCK)).toBe(false);
});

test('a stale lock (its process is gone) is recovered, said so, and then held by the one that recovered it', async () => {
  mkdirSync(lock.LOCK, { recursive: true });
  writeFileSync(join(lock.LOCK, 'owner.json'), JSON.stringify({ who: 'ann', what: 'adopt', pid: 2 ** 22 + 7, start: '1', at: '2026-11-30T00:00:00Z' }));
  const stale = await lock.acquire('me', 'deploy-service simon');
  expect(stale).toMatchObject({ who: 'ann', what: 'adopt' });
  expect(sent.join('')).toMatch(/recovered a stale deploy lock: ann started \\"adopt\\"/);
  // The old code removed the stale lock and returned without taking it: nothing kept others out.
  expect(existsSync(lock.LOCK)).toBe(true);
  expect(owner()).toMatchObject({ who: 'me', pid: process.pid });
});

test('a live holder is waited for, then refused with who holds it (LOCKED)', async () => {
  mkdirSync(lock.LOCK, { recursive: true });
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  writeFileSync(join(lock.LOCK, 'owner.json'), JSON.stringify({ who: 'bob', what: 'deploy-service x', pid: process.pid, start, at: 'now' }));
  await expect(lock.acquire('me', 'adopt', 300)).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringMatching(/busy: bob has been running "deploy-service x"/) });
  expect(owner()).toMatchObject({ who: 'bob' });
});
