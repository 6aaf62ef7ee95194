import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildSync } from 'esbuild';
import { PACKAGE_ROOT } from '../../lib/package-root';

/** The bundles' folders, removed after the test file's last test (the processes that ran them have ended by then). */
const made: string[] = [];
if (typeof afterAll === 'function') {
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * The preload bundled as scripts/build.js bundles it (everything inlined, CommonJS for node 20), into
 * a throwaway folder: unit tests run it with plain node, as a service's process does, without a build.
 */
export function bundlePreload(): string {
  const outfile = join(mkdtempSync(join(tmpdir(), 'portside-preload-bundle-')), 'preload.js');
  made.push(dirname(outfile));
  buildSync({
    entryPoints: [join(PACKAGE_ROOT, 'lib', 'agent', 'preload.ts')], outfile,
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none',
  });
  return outfile;
}
