import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import { NETNS } from './constants';

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** A host command that failed: carries the command, the exit code and stderr. */
export class CommandError extends Error {
  constructor(public readonly argv: readonly string[], public readonly result: RunResult) {
    super(`\`${argv.join(' ')}\` exited with ${result.code}${result.stderr.trim() ? `: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Run a host command to completion (argv, never a shell line); never throws on a non-zero exit. */
export function run(argv: readonly string[], options: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    return { stdout: '', stderr: missing ? `${argv[0]}: command not found` : r.error.message, code: 127 };
  }
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), code: r.status ?? 128 };
}

/** Run a host command and throw a CommandError unless it exits 0; resolves to stdout. */
export function runOrThrow(argv: readonly string[], options: SpawnSyncOptions = {}): string {
  const r = run(argv, options);
  if (r.code !== 0) throw new CommandError(argv, r);
  return r.stdout;
}

/** The argv that runs `argv` inside a stand-in's network namespace (the single stand-in's by default). */
export function inNetns(argv: readonly string[], netns = NETNS): string[] {
  return ['ip', 'netns', 'exec', netns, ...argv];
}

/**
 * The argv that runs `argv` inside the namespace as the deploy user, with the environment an SSH
 * session of that user gets (HOME, USER, SHELL, and the PATH sshd sets), so checks see what deploys see.
 */
export function asUserInNetns(account: { name: string; home: string }, path: string, argv: readonly string[], netns = NETNS): string[] {
  return inNetns(['runuser', '-u', account.name, '--', 'env', '-i', `HOME=${account.home}`, `USER=${account.name}`,
    `LOGNAME=${account.name}`, 'SHELL=/bin/bash', `PATH=${path}`, 'LANG=C.UTF-8', ...argv], netns);
}
