/**
 * AdoptServer's one primitive, on the server itself: argv spawned directly (no shell line, so nothing
 * needs quoting), with the same results and errors as an SSH session's exec/run, so apply.ts and
 * undo.ts run unchanged from the server-side adopt run.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { ExecOptions, ExecResult } from '../../ssh/exec-channel';
import { RemoteCommandError, RemoteTimeoutError } from '../../ssh/errors';
import { toShellLine } from '../../ssh/quote';
import type { ServerCommands } from '../server-ops';

export class LocalCommands implements ServerCommands {
  /** Run argv; resolves with its exit code whatever it is (128 + signal number when killed by one). */
  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => { out.push(c); opts.onStdout?.(c); });
      child.stderr.on('data', (c: Buffer) => { err.push(c); opts.onStderr?.(c); });
      // A command that does not read its stdin closes it early: that is not this run's failure.
      child.stdin.on('error', () => {});
      const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
        child.kill('SIGTERM');
        reject(new RemoteTimeoutError(toShellLine(argv), opts.timeoutMs!));
      }, opts.timeoutMs);
      child.on('error', (e) => { clearTimeout(timer); reject(new Error(`could not run ${argv[0]}: ${e.message}`)); });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 128 + signalNumber(signal), ...(signal ? { signal: signal.replace(/^SIG/, '') } : {}) });
      });
      feed(child.stdin, opts.stdin);
    });
  }

  /** Like exec, but throws RemoteCommandError (command, code, stderr) on a non-zero exit. */
  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0) throw new RemoteCommandError(toShellLine(argv), r.code, r.stderr, r.stdout, 'this server');
    return r;
  }
}

function feed(stdin: NodeJS.WritableStream, input: ExecOptions['stdin']): void {
  if (input === undefined) return void stdin.end();
  if (typeof input === 'string' || Buffer.isBuffer(input)) return void stdin.end(input);
  input.pipe(stdin);
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? constants.signals[signal] ?? 0 : 0;
}
