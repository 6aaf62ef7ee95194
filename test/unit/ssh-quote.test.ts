import { execFileSync } from 'node:child_process';
import { shellQuote, toShellLine } from '../../lib/ssh/quote';

/** Run `printf '%s\0' <args>` through a real `sh -c` line built by toShellLine; return the bytes it printed. */
function roundTrip(args: readonly string[]): Buffer {
  const line = toShellLine(['printf', '%s\\0', ...args]);
  return execFileSync('sh', ['-c', line]);
}
const nulJoined = (args: readonly string[]) => Buffer.concat(args.map((a) => Buffer.from(a + '\0')));

describe('shellQuote / toShellLine', () => {
  const hostile = [
    '', ' ', "'", "''", `it's`, `"`, '\\', `\\'`, 'a\nb', '\n', '\r\n', '\t',
    '$(touch /tmp/portside-pwned)', '`touch /tmp/portside-pwned`', ';rm -rf /', '&& echo hi', '| cat',
    '$HOME', '${HOME}', '~', '~root', '*', '?', '[a]', '{a,b}', '#comment', '!', '!!', '-n', '-e', '--',
    '=cmd', 'a=b', '%1', 'ünïcødé ✓ 🚢', "'$(id)'\"`id`\"", '\x01\x7f', 'x'.repeat(10_000),
  ];

  test.each(hostile.map((h) => [JSON.stringify(h).slice(0, 60), h]))('%s arrives byte-exact through sh -c', (_t, h) => {
    expect(roundTrip([h]).equals(nulJoined([h]))).toBe(true);
  });

  test('all hostile strings together keep their boundaries', () => {
    expect(roundTrip(hostile).equals(nulJoined(hostile))).toBe(true);
  });

  test('plain words stay readable; anything else is single-quoted', () => {
    expect(toShellLine(['pm2', 'restart', 'svc-1', '--update-env', 'a=b', 'dir/file.txt'])).toBe('pm2 restart svc-1 --update-env a=b dir/file.txt');
    expect(shellQuote('')).toBe(`''`);
    expect(shellQuote('a b')).toBe(`'a b'`);
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
    expect(shellQuote('=x')).toBe(`'=x'`); // zsh expands a leading "=" to a command path
    expect(shellQuote('~')).toBe(`'~'`);
  });

  test('throws on a NUL byte, naming its position', () => {
    expect(() => shellQuote('ab\0c')).toThrow(/NUL byte at index 2/);
    expect(() => toShellLine(['echo', '\0'])).toThrow(/NUL/);
  });

  test('throws on an empty argv', () => {
    expect(() => toShellLine([])).toThrow(/argv is empty/);
  });
});
