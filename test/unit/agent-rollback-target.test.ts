/** Which release a rollback goes to (lib/agent/rollback-target.ts), from a history: pure. */
import { candidatesFrom, chooseTarget } from '../../lib/agent/rollback-target';

const h = (id: string, at: string) => ({ id, at, by: 't' });
const all = () => true;

describe('rollback target', () => {
  const history = [h('a', '1'), h('b', '2'), h('c', '3')];

  test('plain rollback goes to the newest release other than the current one', () => {
    const candidates = candidatesFrom(history, 'c', all);
    expect(candidates.map((c) => c.id)).toEqual(['b', 'a']);
    expect(chooseTarget('simon', 'c', candidates)).toBe('b');
  });

  test('a second rollback returns to the release the first one left (like cd -)', () => {
    // After rolling back from c to b, the history has b again as its newest entry.
    const after = [...history, { ...h('b', '4'), rollbackFrom: 'c' }];
    const candidates = candidatesFrom(after, 'b', all);
    expect(candidates.map((c) => c.id)).toEqual(['c', 'a']);
    expect(chooseTarget('simon', 'b', candidates)).toBe('c');
  });

  test('releases no longer on the server are not candidates', () => {
    expect(candidatesFrom(history, 'c', (id) => id !== 'b').map((c) => c.id)).toEqual(['a']);
  });

  test('--to picks any candidate', () => {
    expect(chooseTarget('simon', 'c', candidatesFrom(history, 'c', all), 'a')).toBe('a');
  });

  test.each([
    ['the current release', 'c', 'SAME_RELEASE', /release c is already simon's current release/],
    ['a release the server does not have', 'zz', 'NO_SUCH_RELEASE', /"simon" has no release "zz" on this server/],
  ])('--to %s is refused with the list of releases', (_what, to, code, message) => {
    const candidates = candidatesFrom(history, 'c', all);
    expect(() => chooseTarget('simon', 'c', candidates, to)).toThrow(message);
    try {
      chooseTarget('simon', 'c', candidates, to);
    } catch (e) {
      expect(e).toMatchObject({ code, detail: 'Releases on the server (newest first): b (2), a (1)' });
    }
  });

  test('no other release: refused, naming the current one', () => {
    expect(() => chooseTarget('simon', 'a', candidatesFrom([h('a', '1')], 'a', all))).toThrow('"simon" has no earlier release on the server to roll back to (current: a)');
  });
});
