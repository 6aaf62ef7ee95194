/**
 * The CLI's check of an env file before upload (lib/deploy/env-file.ts): a file the server would load
 * in full passes unchanged; anything else is refused with the line numbers and the rule, never a value.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEnvFile } from '../../lib/deploy/env-file';
import { UserError } from '../../lib/errors';

const dir = mkdtempSync(join(tmpdir(), 'portside-env-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: string | Buffer): string {
  const path = join(dir, `env-${n++}`);
  writeFileSync(path, content);
  return path;
}
function refusal(path: string): UserError {
  try {
    readEnvFile(path);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error(`${path} was accepted`);
}

test('a file of pairs, comments and blank lines is returned as it is', () => {
  const text = '# database\nDATABASE_URL="postgres://u:secret@h/db"\n\nexport API_KEY=secret-key\n';
  expect(readEnvFile(file(text))).toBe(text);
});

test('lines that are not KEY=value are named by number, with the rule, and no value is shown', () => {
  const e = refusal(file('A=secret-1\nsecret-2 without equals\nB=ok\n1BAD=secret-3\n'));
  expect(e.message).toMatch(/: lines 2, 4 are not KEY=value$/);
  expect(`${e.message} ${e.detail ?? ''}`).not.toMatch(/secret/);
});

test('one bad line is "line N is"', () => {
  expect(refusal(file('A=1\noops\n')).message).toMatch(/: line 2 is not KEY=value$/);
});

test('a name the service cannot get is refused with its line', () => {
  expect(refusal(file('A=1\nPORT=3000\n')).message).toMatch(/line 2 sets PORT, which the service cannot get from an env file/);
});

test('a missing path, a folder, a NUL byte and more than 64 KiB are refused', () => {
  expect(refusal(join(dir, 'nope')).message).toMatch(/does not exist$/);
  const folder = join(dir, 'folder');
  mkdirSync(folder);
  expect(refusal(folder).message).toMatch(/is not a file$/);
  expect(refusal(file('A=1\0\n')).message).toMatch(/contains a NUL byte/);
  expect(refusal(file(`A=${'x'.repeat(64 * 1024)}\n`)).message).toMatch(/an env file may be at most 64 KiB$/);
});

test('a value with a lone carriage return is refused: the server would skip that line', () => {
  expect(refusal(file('A=one\rtwo\n')).message).toMatch(/: line 1 is not KEY=value$/);
});
