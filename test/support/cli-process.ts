import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../lib/package-root';

/** What a CLI process printed and how it ended. */
export interface CliProcessRun {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/**
 * The built CLI (`bin/portside.js`) in its own process with `env`: for tests whose CLI run must not share
 * the test's event loop (`local up` blocks it) or needs its own environment (a PORTSIDE_HOME, a keeper).
 */
export function cliProcess(env: NodeJS.ProcessEnv, ...argv: string[]): Promise<CliProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'portside.js'), ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
