/**
 * What a service folder may hold: the walk refuses symbolic link loops with the link, the rule and the
 * fix (not the kernel's ELOOP), and the size limit holds for the release as a whole, not only per file.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../lib/errors';
import { buildManifest, listFiles, MAX_RELEASE_BYTES, releaseSizeProblem } from '../../lib/deploy/file-list';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'portside-release-files-'));
  writeFileSync(join(work, 'index.js'), 'require("http").createServer().listen(process.argv[2]);\n');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function thrown(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected a UserError');
}

const sparse = (name: string, bytes: number): void => {
  writeFileSync(join(work, name), '');
  truncateSync(join(work, name), bytes);
};

describe('symbolic link loops', () => {
  test('a folder link back to an ancestor is refused with the link, where it leads and the fix', () => {
    mkdirSync(join(work, 'lib'));
    symlinkSync('..', join(work, 'lib', 'up'));
    const e = thrown(() => listFiles(work));
    expect(e.message).toMatch(/^lib\/up is a symbolic link to \S+, a folder that contains it: a symbolic link loop$/);
    expect(e.message).not.toMatch(/ELOOP/);
    expect(e.detail).toMatch(/remove the link/);
  });

  test('a link to itself is refused as a loop, not as ELOOP', () => {
    symlinkSync('self', join(work, 'self'));
    const e = thrown(() => listFiles(work));
    expect(e.message).toBe('self is a symbolic link loop (it leads back to itself through self)');
    expect(e.detail).toMatch(/remove the link/);
  });

  test('two links pointing at each other are a loop', () => {
    symlinkSync('b', join(work, 'a'));
    symlinkSync('a', join(work, 'b'));
    expect(thrown(() => listFiles(work)).message).toMatch(/^a is a symbolic link loop/);
  });

  test('a link to a sibling folder inside the service is not a loop: its files are listed under the link', () => {
    mkdirSync(join(work, 'shared'));
    writeFileSync(join(work, 'shared', 'x.js'), '1');
    symlinkSync('shared', join(work, 'alias'));
    expect(listFiles(work).map((f) => f.path)).toEqual(['alias/x.js', 'index.js', 'shared/x.js']);
  });
});

describe('the release size limit', () => {
  test('three 90 MiB files (sparse) pass the per-file limit but not the release limit', async () => {
    for (const n of ['a.bin', 'b.bin', 'c.bin']) sparse(n, 90 * 2 ** 20);
    const files = listFiles(work);
    await expect(buildManifest(files)).rejects.toThrow('the release is 270 MiB in 4 files; a release may be at most 100 MiB in all');
    const p = releaseSizeProblem(files)!;
    expect(p.detail).toMatch(/^Largest: a\.bin \(90 MiB\), b\.bin \(90 MiB\), c\.bin \(90 MiB\), index\.js \(0\.00 MiB\)\.\n/);
    expect(p.detail).toMatch(/move data, logs and build leftovers out of the folder/);
  });

  test('a release just at the limit passes; one byte more does not', () => {
    const at = [{ path: 'a', size: MAX_RELEASE_BYTES - 10 }, { path: 'b', size: 10 }];
    expect(releaseSizeProblem(at)).toBeNull();
    expect(releaseSizeProblem([...at, { path: 'c', size: 1 }])).not.toBeNull();
  });

  test('node_modules does not count: it is never uploaded', async () => {
    mkdirSync(join(work, 'node_modules'));
    sparse('node_modules/big.bin', 200 * 2 ** 20);
    await expect(buildManifest(listFiles(work))).resolves.toHaveLength(1);
  });
});
