import type { Client, ClientChannel } from 'ssh2';
import { constants } from 'node:os';
import { CallLifetime } from './call-lifetime';

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** The exit status; 128 + signal number when the remote process was killed by a signal (as a shell reports it). */
  code: number;
  /** Set when the remote process was killed by a signal, e.g. `TERM`. */
  signal?: string;
}

export interface ExecOptions {
  /** Bytes for the command's stdin. Streams are piped (tar uploads) and stdin is ended when they end. Never logged. */
  stdin?: string | Buffer | NodeJS.ReadableStream;
  /** Stop the command (SIGHUP, channel closed) and reject with RemoteTimeoutError after this long. */
  timeoutMs?: number;
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  /** Abort → the remote process gets SIGHUP, the channel is closed, and the call rejects with RemoteAbortError. */
  signal?: AbortSignal;
}

/** Run one shell line on its own exec channel of `client`; resolves on exit whatever the status. */
export function execOnChannel(
  client: Client,
  command: string,
  opts: ExecOptions,
  connectionGone: () => Error | undefined,
): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    const call = new ExecCall(command, opts, resolve, reject);
    if (!call.start()) return;
    client.exec(command, (err, ch) => {
      if (err) return call.fail(new Error(`could not open an SSH channel for: ${command}: ${err.message}`));
      call.attach(ch, connectionGone);
    });
  });
}

type Exit = { code: number | null; signal?: string };

/** One exec on its own channel: it settles once, on whichever comes first of exit, abort, timeout or a channel error. */
class ExecCall extends CallLifetime {
  private channel: ClientChannel | undefined;

  /** The channel has opened: collect its output and feed its stdin (or hang up, if stopped meanwhile). */
  attach(ch: ClientChannel, connectionGone: () => Error | undefined): void {
    this.channel = ch;
    if (this.isSettled) return hangUp(ch); // aborted or timed out while the channel was opening
    collectOutput(ch, this.opts, (out, errOut, exit) => {
      const gone = connectionGone();
      if (!exit && gone) return this.fail(gone);
      this.succeed(toResult(out, errOut, exit));
    });
    ch.on('error', (e: Error) => this.stop(new Error(`SSH channel error while running: ${this.command}: ${e.message}`)));
    feedStdin(ch, this.opts.stdin, (e) => this.stop(new Error(`reading stdin for the remote command failed: ${e.message}; command: ${this.command}`)));
  }

  protected hangUp(): void {
    if (this.channel) hangUp(this.channel);
  }
}

/** Gather the channel's stdout and stderr (passing each chunk on) and its exit; `onEnd` once all are in. */
function collectOutput(ch: ClientChannel, opts: ExecOptions, onEnd: (out: Buffer[], errOut: Buffer[], exit: Exit | undefined) => void): void {
  const out: Buffer[] = [];
  const errOut: Buffer[] = [];
  let exit: Exit | undefined;
  let pending = 3; // channel close + end of stdout + end of stderr: only then is all output in
  const done = () => {
    if (--pending > 0) return;
    onEnd(out, errOut, exit);
  };
  ch.on('data', (chunk: Buffer) => { out.push(chunk); opts.onStdout?.(chunk); });
  ch.stderr.on('data', (chunk: Buffer) => { errOut.push(chunk); opts.onStderr?.(chunk); });
  ch.on('exit', (code: number | null, signal?: string) => { exit = { code, signal: signal ?? undefined }; });
  ch.once('end', done);
  ch.stderr.once('end', done);
  ch.once('close', done);
}

function feedStdin(ch: ClientChannel, stdin: ExecOptions['stdin'], onError: (e: Error) => void): void {
  if (stdin === undefined) return void ch.end();
  if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) return void ch.end(stdin);
  stdin.once('error', onError);
  // If the command exits without reading everything, stop feeding a closed channel.
  ch.once('close', () => stdin.unpipe(ch));
  stdin.pipe(ch);
}

/**
 * Without a pty sshd does not hang up the process when the channel closes, so ask for SIGHUP first
 * (an SSH "signal" request; sshd sends it to the process group). ssh2's `signal()` refuses once stdin
 * is ended, but the protocol allows it after EOF, so go one level down when needed.
 */
function hangUp(ch: ClientChannel): void {
  const inner = ch as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, name: string): void } };
  };
  try {
    if (inner.outgoing && (inner.outgoing.state === 'open' || inner.outgoing.state === 'eof')) {
      inner._client?._protocol?.signal(inner.outgoing.id, 'HUP');
    }
  } catch {
    // the channel is already going away; closing it below is enough
  }
  ch.close();
}

function toResult(out: Buffer[], errOut: Buffer[], exit: Exit | undefined): ExecResult {
  const result: ExecResult = {
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(errOut).toString('utf8'),
    code: exit?.code ?? -1,
  };
  if (exit?.signal) {
    result.signal = exit.signal;
    const num = (constants.signals as Record<string, number>)[`SIG${exit.signal}`];
    if (exit.code === null) result.code = num ? 128 + num : -1;
  }
  return result;
}
