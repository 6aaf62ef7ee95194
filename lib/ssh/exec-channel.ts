import type { Client, ClientChannel } from 'ssh2';
import { constants } from 'node:os';
import { RemoteAbortError, RemoteTimeoutError } from './errors';

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
    let settled = false;
    let channel: ClientChannel | undefined;
    let timer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const stop = (error: Error) => {
      settle(() => reject(error));
      if (channel) hangUp(channel);
    };
    const onAbort = () => stop(new RemoteAbortError(command));

    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeoutMs !== undefined) timer = setTimeout(() => stop(new RemoteTimeoutError(command, opts.timeoutMs!)), opts.timeoutMs);

    client.exec(command, (err, ch) => {
      if (err) return settle(() => reject(new Error(`could not open an SSH channel for: ${command}: ${err.message}`)));
      channel = ch;
      if (settled) return hangUp(ch); // aborted or timed out while the channel was opening

      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let exit: { code: number | null; signal?: string } | undefined;
      let pending = 3; // channel close + end of stdout + end of stderr: only then is all output in

      const done = () => {
        if (--pending > 0) return;
        const gone = connectionGone();
        if (!exit && gone) return settle(() => reject(gone));
        settle(() => resolve(toResult(out, errOut, exit)));
      };
      ch.on('data', (chunk: Buffer) => { out.push(chunk); opts.onStdout?.(chunk); });
      ch.stderr.on('data', (chunk: Buffer) => { errOut.push(chunk); opts.onStderr?.(chunk); });
      ch.on('exit', (code: number | null, signal?: string) => { exit = { code, signal: signal ?? undefined }; });
      ch.once('end', done);
      ch.stderr.once('end', done);
      ch.once('close', done);
      ch.on('error', (e: Error) => stop(new Error(`SSH channel error while running: ${command}: ${e.message}`)));

      feedStdin(ch, opts.stdin, (e) => stop(new Error(`reading stdin for the remote command failed: ${e.message}; command: ${command}`)));
    });
  });
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

function toResult(out: Buffer[], errOut: Buffer[], exit: { code: number | null; signal?: string } | undefined): ExecResult {
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
