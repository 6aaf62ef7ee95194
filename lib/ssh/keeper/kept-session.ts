import { connect, type Socket } from 'node:net';
import { CallLifetime } from '../call-lifetime';
import { RemoteCommandError } from '../errors';
import type { ExecOptions, ExecResult, SshSession } from '../connection';
import { toShellLine } from '../quote';
import { encodeFrame, frameJson, FrameDecoder, FROM_KEEPER, TO_KEEPER, type Frame } from './frames';

/**
 * The CLI's session over a keeper (serve.ts): each exec is one connection to its Unix socket, which the
 * keeper relays to a channel of its SSH connection. Results, errors, aborts and timeouts are the same
 * as a direct session's (connection.ts), so nothing above it can tell the difference.
 */
export class KeptSession implements SshSession {
  constructor(private readonly socketPath: string, public readonly hostKeyFingerprint: string, private readonly where: string) {}

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.request(encodeFrame(TO_KEEPER.exec, { argv }), toShellLine(argv), opts);
  }

  execAgent(agentPath: string, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.request(encodeFrame(TO_KEEPER.agent, { agentPath, command }), `the agent's ${command}`, opts);
  }

  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.exec(argv, opts);
    if (result.code !== 0) throw new RemoteCommandError(toShellLine(argv), result.code, result.stderr, result.stdout, this.where);
    return result;
  }

  /** The keeper keeps the connection: nothing to close here. */
  async close(): Promise<void> {}

  private request(first: Buffer, command: string, opts: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const call = new KeptCall(command, opts, resolve, reject, this.where);
      if (!call.start()) return;
      const sock = connect(this.socketPath, () => call.attach(sock, first));
      call.watch(sock);
    });
  }
}

/** One exec through the keeper: settles once, on the exit frame, a failure, an abort, a timeout or a lost socket. */
class KeptCall extends CallLifetime {
  private sock: Socket | undefined;
  private readonly out: Buffer[] = [];
  private readonly errOut: Buffer[] = [];

  constructor(command: string, opts: ExecOptions, resolve: (r: ExecResult) => void, reject: (e: Error) => void, private readonly where: string) {
    super(command, opts, resolve, reject);
  }

  /** Socket errors and an early close: the connection went away before the command finished. */
  watch(sock: Socket): void {
    this.sock = sock;
    const gone = (): void => this.fail(new Error(`the SSH connection to ${this.where} closed before the command finished`));
    sock.on('error', gone);
    sock.once('close', gone);
  }

  /** Connected: send the request and stdin, and read the keeper's frames. */
  attach(sock: Socket, first: Buffer): void {
    if (this.isSettled) return void sock.destroy();
    sock.write(first);
    const decoder = new FrameDecoder();
    sock.on('data', (chunk: Buffer) => decoder.push(chunk).forEach((f) => this.frame(f)));
    feedStdin(sock, this.opts.stdin, (e) => this.stop(new Error(`reading stdin for the remote command failed: ${e.message}; command: ${this.command}`)));
  }

  private frame(f: Frame): void {
    if (f.type === FROM_KEEPER.stdout) {
      this.out.push(f.payload);
      this.opts.onStdout?.(f.payload);
    } else if (f.type === FROM_KEEPER.stderr) {
      this.errOut.push(f.payload);
      this.opts.onStderr?.(f.payload);
    } else if (f.type === FROM_KEEPER.exit) {
      const { code, signal } = frameJson<{ code: number; signal?: string }>(f);
      const result: ExecResult = { stdout: Buffer.concat(this.out).toString('utf8'), stderr: Buffer.concat(this.errOut).toString('utf8'), code };
      if (signal) result.signal = signal;
      this.succeed(result);
    } else if (f.type === FROM_KEEPER.failed) {
      this.fail(new Error(frameJson<{ message: string }>(f).message));
    }
  }

  /** The keeper hangs the remote command up when asked. */
  protected hangUp(): void {
    if (this.sock && !this.sock.destroyed) this.sock.end(encodeFrame(TO_KEEPER.hangUp));
  }
}

/** The command's stdin as frames: bytes, then the end (a stream is piped as it comes). */
function feedStdin(sock: Socket, stdin: ExecOptions['stdin'], onError: (e: Error) => void): void {
  const end = (): void => void (sock.writable && sock.write(encodeFrame(TO_KEEPER.stdinEnd)));
  if (stdin === undefined) return end();
  if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) {
    sock.write(encodeFrame(TO_KEEPER.stdin, Buffer.from(stdin)));
    return end();
  }
  stdin.once('error', onError);
  const onData = (chunk: Buffer | string): void => {
    if (!sock.writable) return;
    if (!sock.write(encodeFrame(TO_KEEPER.stdin, Buffer.from(chunk)))) {
      stdin.pause();
      sock.once('drain', () => stdin.resume());
    }
  };
  stdin.on('data', onData);
  stdin.once('end', end);
  sock.once('close', () => stdin.removeListener('data', onData));
}
