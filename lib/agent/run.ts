import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { describeNpmFailure, diskFree, npmDirs } from './npm-failure';

export interface RunOptions {
  readonly cwd?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Copy the program's output to stderr as it comes (the CLI shows it as the tool's log). @default false */
  readonly echo?: boolean;
  /** Piped to the program's stdin. @default - an empty stdin */
  readonly input?: Readable;
  /** Resolve whatever the exit code. @default false */
  readonly allowFail?: boolean;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A program that failed: its output, its exit code, and for npm the lines that say why. */
export class RunError extends Error {
  constructor(message: string, readonly stdout: string, readonly stderr: string, readonly code?: number | null, readonly detail?: string) {
    super(message);
  }
}

/** Run a program (argv, no shell) and collect its output; rejects with stderr's tail on failure. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (opts.echo) process.stderr.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      if (opts.echo) process.stderr.write(d);
    });
    if (opts.input) opts.input.pipe(child.stdin);
    else child.stdin.end();
    child.stdin.on('error', () => {});
    child.on('error', (e) => reject(new RunError(`${cmd} could not start: ${e.message}`, out, err)));
    child.on('close', (code, signal) => {
      if (code === 0 || opts.allowFail) resolve({ code, stdout: out, stderr: err });
      else reject(failure(cmd, args, opts.cwd, signal ?? `exit ${code}`, out, err, code));
    });
  });
}

function failure(cmd: string, args: readonly string[], cwd: string | undefined, status: string, out: string, err: string, code: number | null): RunError {
  if (cmd === 'npm' || /^npm (error|ERR!)/m.test(err + out)) {
    // npm's tail is about its own log file; the lines that matter (or the full disk) are elsewhere.
    const why = describeNpmFailure(cmd === 'npm' ? `npm ${args[0]}` : `npm (through ${cmd})`, status, `${out}\n${err}`, diskFree(npmDirs(cwd)));
    return new RunError(why.message, out, err, code, why.detail);
  }
  return new RunError(`${[cmd, ...args].join(' ')} failed (${status}): ${tail(err || out, 5)}`, out, err, code);
}

/** The last `n` lines of a program's output. */
export function tail(text: unknown, n: number): string {
  return String(text).trim().split('\n').slice(-n).join('\n');
}
