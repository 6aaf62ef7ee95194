/** The parts of `process` this needs (tests pass their own). */
export interface PipeProcess {
  readonly stdout: NodeJS.EventEmitter;
  readonly stderr: NodeJS.EventEmitter;
  exitCode?: number | string | undefined;
  exit(code?: number): never;
}

/** A write to a pipe whose reader has gone (`portside ports | head -1`), or any write after that one. */
export function isClosedPipe(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

/**
 * Make a reader that stops reading end the CLI quietly instead of with an "Unhandled 'error' event"
 * stack trace. When stdout's reader is gone (`| head`), whoever reads has what it wanted: the CLI
 * exits at once with the code it already has (0 unless the command had failed), as `git log | head`
 * does, and the same code whether or not the pipe happened to fill first. When stderr's reader is
 * gone, progress lines are dropped but the command carries on, so a deploy is never cut off half-way
 * and its exit code still tells how it went. Any other stream error is still thrown.
 */
export function endQuietlyOnClosedPipes(proc: PipeProcess = process): void {
  proc.stdout.on('error', (e: unknown) => {
    if (!isClosedPipe(e)) throw e;
    const code = typeof proc.exitCode === 'number' ? proc.exitCode : 0;
    proc.exit(code);
  });
  proc.stderr.on('error', (e: unknown) => {
    if (!isClosedPipe(e)) throw e;
  });
}
