import fc from 'fast-check';
import { encodeFrame, FrameDecoder, frameJson } from '../../lib/ssh/keeper/frames';
import { identityHash, keeperFiles, MAX_SOCKET_PATH, type KeeperIdentity } from '../../lib/ssh/keeper/identity';
import { IdleTimer } from '../../lib/ssh/keeper/idle-timer';
import { DEFAULT_IDLE_MS, persistIdleMs } from '../../lib/ssh/keeper/setting';

describe('PORTSIDE_SSH_PERSIST', () => {
  test('unset: kept for the default 10 minutes, but off under CI', () => {
    expect(persistIdleMs({})).toBe(DEFAULT_IDLE_MS);
    expect(DEFAULT_IDLE_MS).toBe(600_000);
    expect(persistIdleMs({ CI: 'true' })).toBeNull();
    expect(persistIdleMs({ CI: '1' })).toBeNull();
    expect(persistIdleMs({ CI: 'false' })).toBe(DEFAULT_IDLE_MS);
  });

  test.each([['0'], ['off'], ['no'], ['false'], [' OFF ']])('%j turns it off', (v) => {
    expect(persistIdleMs({ PORTSIDE_SSH_PERSIST: v })).toBeNull();
  });

  test.each([['90', 90_000], ['90s', 90_000], ['10m', 600_000], ['1h', 3_600_000], ['24h', 86_400_000]])('%j keeps it %d ms, even under CI', (v, ms) => {
    expect(persistIdleMs({ PORTSIDE_SSH_PERSIST: v, CI: 'true' })).toBe(ms);
  });

  test.each([['yes'], ['-1'], ['1.5m'], ['10 m'], ['25h'], ['0s'], ['1d']])('%j is refused with the value, the rule and the fix', (v) => {
    expect(() => persistIdleMs({ PORTSIDE_SSH_PERSIST: v })).toThrow(`PORTSIDE_SSH_PERSIST="${v}" is not a duration: use 0 (off) or a time up to 24h such as 90s, 10m or 1h`);
  });
});

describe('the keeper identity', () => {
  const base: KeeperIdentity = {
    host: '10.0.0.5', port: 22, user: 'ubuntu', knownHostsPath: '/h/.portside/known_hosts', privateKey: Buffer.from('KEY-A'),
  };

  test('every field of the identity changes the hash; the same identity gives the same hash', () => {
    const changes: Array<Partial<KeeperIdentity>> = [
      { host: '10.0.0.6' }, { port: 2222 }, { user: 'root' }, { hostKeyAlias: 'i-0abc' }, { knownHostsPath: '/other' },
      { expectedFingerprints: ['SHA256:x'] }, { privateKey: Buffer.from('KEY-B') },
    ];
    const hashes = new Set([identityHash(base), ...changes.map((c) => identityHash({ ...base, ...c }))]);
    expect(hashes.size).toBe(changes.length + 1);
    expect(identityHash({ ...base })).toBe(identityHash(base));
    expect(identityHash({ ...base, expectedFingerprints: ['b', 'a'] })).toBe(identityHash({ ...base, expectedFingerprints: ['a', 'b'] }));
  });

  test('the hash is 20 hex digits and reveals neither the key nor the host', () => {
    const h = identityHash(base);
    expect(h).toMatch(/^[0-9a-f]{20}$/);
    const f = keeperFiles('/home/u/.portside', h);
    expect(f).toEqual({
      dir: '/home/u/.portside/keepers', socket: `/home/u/.portside/keepers/${h}.sock`,
      info: `/home/u/.portside/keepers/${h}.json`, log: `/home/u/.portside/keepers/${h}.log`, socketFits: true,
    });
  });

  test('a socket path longer than a Unix socket allows is marked as not fitting', () => {
    const h = identityHash(base);
    const long = `/${'x'.repeat(MAX_SOCKET_PATH - '/keepers/'.length - h.length - '.sock'.length - 1)}`;
    expect(keeperFiles(long, h).socketFits).toBe(true);
    expect(keeperFiles(`${long}y`, h).socketFits).toBe(false);
  });
});

describe('frames between the CLI and its keeper', () => {
  test('any frames, cut into any chunks, decode to the same frames', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.constantFrom('x', 'i', 'o', 'e', 'X'), fc.uint8Array({ maxLength: 300 }))),
      fc.array(fc.integer({ min: 1, max: 50 })),
      (frames, cuts) => {
        const bytes = Buffer.concat(frames.map(([t, p]) => encodeFrame(t, Buffer.from(p))));
        const decoder = new FrameDecoder();
        const got: Array<[string, Buffer]> = [];
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts.length ? cuts[i % cuts.length] : bytes.length;
          decoder.push(bytes.subarray(at, at + n)).forEach((f) => got.push([f.type, Buffer.from(f.payload)]));
          at += n;
        }
        expect(got).toEqual(frames.map(([t, p]) => [t, Buffer.from(p)]));
      },
    ));
  });

  test('an object payload travels as JSON', () => {
    const [f] = new FrameDecoder().push(encodeFrame('x', { argv: ['echo', 'a b'] }));
    expect(f.type).toBe('x');
    expect(frameJson(f)).toEqual({ argv: ['echo', 'a b'] });
  });
});

describe('the idle timer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('fires after the idle period with nothing in use', () => {
    const onIdle = jest.fn();
    new IdleTimer(1000, onIdle);
    jest.advanceTimersByTime(999);
    expect(onIdle).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  test('a use holds it off; the period counts again from the end of the last use', () => {
    const onIdle = jest.fn();
    const t = new IdleTimer(1000, onIdle);
    jest.advanceTimersByTime(900);
    t.begin();
    t.begin();
    jest.advanceTimersByTime(5000);
    t.end();
    jest.advanceTimersByTime(5000);
    expect(onIdle).not.toHaveBeenCalled();
    t.end();
    jest.advanceTimersByTime(999);
    expect(onIdle).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  test('stopped, it never fires', () => {
    const onIdle = jest.fn();
    const t = new IdleTimer(1000, onIdle);
    t.stop();
    t.end();
    jest.advanceTimersByTime(10_000);
    expect(onIdle).not.toHaveBeenCalled();
  });
});
