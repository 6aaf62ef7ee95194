import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../lib/cli/main';
import { keepersDir } from '../../lib/ssh/keeper/identity';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** A Portside home of the test's own (known hosts, cached keys), never the user's. */
export const testHome = mkdtempSync(join(tmpdir(), 'portside-test-home-'));

// Removed after the test file's last test (this module's hook is declared before the file's own, so
// only hooks inside its describe blocks have run by then: none of them uses the home afterwards).
// A home with a keepers folder is left in place: with PORTSIDE_TEST_SSH_PERSIST set, a kept connection
// (lib/ssh/keeper) may still run in it, detached, until its idle limit.
if (typeof afterAll === 'function') {
  afterAll(() => {
    if (!existsSync(keepersDir(testHome))) rmSync(testHome, { recursive: true, force: true });
  });
}

/** Run the real CLI in-process, as a user would type it, capturing what it prints. */
export async function cli(...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, PORTSIDE_HOME: testHome };
  delete env.INIT_CWD;
  delete env.PORTSIDE_TARGET;
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env, cwd: process.cwd() });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
