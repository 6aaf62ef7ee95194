import { PassThrough } from 'node:stream';
import type { ExecResult, SshSession } from '../connection';

/** Where a remote command's output goes: the CLI's socket, once one is attached. */
export type OutputSink = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

/**
 * One remote command in the keeper: its stdin, its end, and its output, held until a sink is attached
 * (a standby agent's first line arrives before any CLI takes it).
 */
export class RemoteRun {
  readonly stdin = new PassThrough();
  readonly done: Promise<ExecResult>;
  private ended = false;
  private sink: OutputSink | undefined;
  private held: Array<['stdout' | 'stderr', Buffer]> = [];
  private readonly abort = new AbortController();

  constructor(session: SshSession, argv: readonly string[]) {
    this.done = session.exec(argv, {
      stdin: this.stdin,
      onStdout: (c) => this.output('stdout', c),
      onStderr: (c) => this.output('stderr', c),
      signal: this.abort.signal,
    });
    this.done.then(() => { this.ended = true; }, () => { this.ended = true; });
  }

  /** False once the command has ended (a standby that found no agent, or a closed connection). */
  get alive(): boolean {
    return !this.ended;
  }

  /** Send the output so far, and all that follows, to `sink`. */
  attach(sink: OutputSink): void {
    this.sink = sink;
    for (const [stream, chunk] of this.held) sink(stream, chunk);
    this.held = [];
  }

  /** SIGHUP and close the channel, as an aborted exec does. */
  hangUp(): void {
    this.abort.abort();
  }

  private output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.sink) this.sink(stream, chunk);
    else this.held.push([stream, chunk]);
  }
}
