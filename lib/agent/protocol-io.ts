// The agent's end of the wire (lib/protocol): JSON lines on stdout; raw tool output (npm, tar) goes to
// stderr. A closed connection must never stop a deploy half-way: writes to a dead pipe are dropped
// and SIGHUP is ignored, so the agent always finishes or rolls back, then releases the lock.
import { Readable } from 'node:stream';
import { AgentMessage, encodeLine, LineDecoder, startsUpload, StepName, WireObject } from '../protocol';
import * as interrupt from './interrupt';

process.on('SIGHUP', () => {});
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

/** Send one message to the CLI; a client that is gone is not an error (the agent carries on). */
export function send(msg: AgentMessage): void {
  try {
    process.stdout.write(encodeLine(msg));
  } catch {
    /* the client is gone; carry on */
  }
}

let current: StepName | null = null;

/** The step running now (or last started), for a failure's report. */
export function currentStep(): StepName | null {
  return current;
}

/** Announce a step and time it; the CLI prints these as they come. Refused after a Ctrl-C stop. */
export async function step<T>(name: StepName, fn: () => Promise<T> | T): Promise<T> {
  const stop = interrupt.beforeStep(name);
  if (stop) throw new AgentError(stop, undefined, 'INTERRUPTED');
  const t0 = Date.now();
  current = name;
  send({ type: 'step', name, status: 'start' });
  const result = await fn();
  send({ type: 'step', name, status: 'done', ms: Date.now() - t0 });
  return result;
}

export function note(text: string): void {
  send({ type: 'note', text });
}

/** An error meant for the user: one line, plus optional detail (log tail) and a stable code. */
export class AgentError extends Error {
  constructor(message: string, readonly detail?: string, readonly code?: string) {
    super(message);
  }
}

/** The CLI's messages after the header, and the raw upload after a plan that announces one. */
export interface Input {
  /** The next message, or null when the client has gone (or sent a line that is not a message). */
  next(): Promise<WireObject | null>;
  /** Everything after the last message, as a readable stream (the tar upload). */
  rest(): Readable;
}

/** Start the conversation: say who we are, answer Ctrl-C, and read the CLI's lines from stdin. */
export function createInput(): Input {
  // The CLI needs the pid to ask for a stop (Ctrl-C), and an answer it can tell the user.
  send({ type: 'agent', pid: process.pid });
  interrupt.listen((stopping) => send({ type: 'interrupt', stopping, step: current }));
  return stdinInput(process.stdin);
}

/**
 * The CLI's lines from `stdin`, then its raw upload. One closure of ~40 lines because the line queue,
 * the waiters and the held-back raw bytes are shared by the stream handlers and both methods, and each
 * inner function is a few lines; split apart, that state would have to be passed around by reference.
 */
function stdinInput(stdin: NodeJS.ReadableStream): Input {
  const decoder = new LineDecoder(startsUpload);
  const lines: Array<WireObject | null> = [];
  const waiters: Array<(m: WireObject | null) => void> = [];
  // After a plan with an upload, the bytes are tar data: they may share a chunk with the plan.
  let raw: Buffer[] = [];
  let rawTarget: Readable | null = null;
  let ended = false;
  const flush = (): void => {
    while (waiters.length && (lines.length || ended)) waiters.shift()!(lines.length ? lines.shift()! : null);
  };
  stdin.on('data', (chunk: Buffer) => {
    const out = decoder.push(chunk);
    for (const l of out.lines) lines.push(l.message ?? null);
    if (out.raw.length) {
      if (rawTarget) rawTarget.push(out.raw);
      else raw.push(out.raw);
    }
    flush();
  });
  const finish = (): void => {
    ended = true;
    rawTarget?.push(null);
    flush();
  };
  stdin.on('end', finish);
  stdin.on('error', finish);
  return {
    next: () => new Promise((resolve) => {
      waiters.push(resolve);
      flush();
    }),
    rest() {
      rawTarget = new Readable({ read() {} });
      for (const b of raw) rawTarget.push(b);
      raw = [];
      if (ended) rawTarget.push(null);
      return rawTarget;
    },
  };
}
