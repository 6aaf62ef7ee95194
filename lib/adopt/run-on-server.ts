/**
 * The CLI's side of the adopt run on the server (lib/adopt/on-server/main.ts): send the bundle with
 * the agent, start the run with the server's Node, print what it says as it says it, beat every
 * BEAT_MS so it knows this CLI is there, and hand back its result. If this CLI is killed or the
 * connection is cut, the run carries on without it (see on-server/main.ts for what it then does).
 */
import { PassThrough } from 'node:stream';
import { ensureAgent } from '../deploy/agent-client';
import { UserError } from '../errors';
import { encodeLine, LineDecoder } from '../protocol/framing';
import type { SshSession } from '../ssh';
import { ADOPT_LOG, BEAT_MS, ClientLine, RunHeader, RunLine } from './on-server/messages';

type Result = Extract<RunLine, { type: 'result' }>;

/** A run started on the server. */
export interface ServerRun {
  /** Resolves once the run holds the server's lock; `changed`: read the server again before planning. */
  readonly ready: Promise<{ changed: boolean }>;
  /** Send the CLI's next line (the plan, or abort). */
  send(line: ClientLine): void;
  /** The run's result; a failure it reports or a lost run becomes a UserError. */
  readonly result: Promise<unknown>;
}

/** What a lost run leaves to the user: the server-side run decides, the next run tells. */
const LOST = (what: string) => `the connection to the ${what} run on the server was lost before it said how it ended`;
const LOST_FIX = (undo: boolean) => `The run carries on on the server without this CLI: ${undo ? 'an undo finishes' : 'an adoption stops before its next step and puts the server back (from its last step on, it finishes)'}. `
  + `Run the same command again: it waits for that run, prints its log (~/${ADOPT_LOG} on the server), and goes on from how it ended.`;

/** Start the run: `node` is the server's Node (nvm's is off a non-interactive PATH), `print` gets each line it says. */
export async function startServerRun(ssh: SshSession, node: string, header: RunHeader, print: (line: string) => void): Promise<ServerRun> {
  const runner = (await ensureAgent(ssh)).replace(/agent\.js$/, 'adopt.js');
  const stdin = new PassThrough();
  stdin.write(encodeLine(header));
  const beat = setInterval(() => { if (!stdin.writableEnded) stdin.write(encodeLine({ type: 'beat' } satisfies ClientLine)); }, BEAT_MS);
  let readyFn: (r: { changed: boolean }) => void = () => {};
  const ready = new Promise<{ changed: boolean }>((resolve) => { readyFn = resolve; });
  let result: Result | undefined;
  const decoder = new LineDecoder();
  const onLine = (m: RunLine): void => {
    if (m.type === 'said' || m.type === 'note') print(m.text);
    else if (m.type === 'previous') printPrevious(m.lines, print);
    else if (m.type === 'ready') readyFn({ changed: m.changed });
    else if (m.type === 'result') result = m;
  };
  const exec = ssh.exec([node, runner], {
    stdin,
    onStdout: (chunk) => { for (const l of decoder.push(chunk).lines) if (l.message) onLine(l.message as unknown as RunLine); },
  });
  const what = header.type === 'undo' ? 'undo' : 'adopt';
  const unlisten = listenForCtrlC(stdin, beat, header.type === 'undo', print);
  const ended = exec.then(
    (r) => {
      if (!result) throw new UserError(`${LOST(what)} (exit ${r.code}${r.signal ? `, ${r.signal}` : ''})`, `${r.stderr.trim().split('\n').slice(-5).join('\n')}\n${LOST_FIX(what === 'undo')}`.trim());
      if (!result.ok) throw new UserError(result.error ?? `the ${what} run failed`, result.detail);
      return result.outcome;
    },
    (e: Error) => { throw new UserError(`${LOST(what)}: ${e.message}`, LOST_FIX(what === 'undo')); },
  ).finally(() => { clearInterval(beat); stdin.end(); unlisten(); });
  // A run that ends before it is ready (a failure, the lock not free) ends the wait with its error.
  const readyOrEnded = Promise.race([ready, ended.then(() => { throw new UserError(`the ${what} run on the server ended before it was ready`); })]);
  // Each is awaited only on its own path (undo never waits for ready): neither may reject unheard.
  readyOrEnded.catch(() => {});
  ended.catch(() => {});
  // After Ctrl-C stdin has ended: the run reads that as this CLI gone, and nothing more is sent.
  const send = (line: ClientLine): void => { if (!stdin.writableEnded) stdin.write(encodeLine(line)); };
  return { ready: readyOrEnded, send, result: ended };
}

/**
 * Ctrl-C: this CLI stops beating and ends its stdin, which the run reads as its CLI gone (see
 * on-server/main.ts), says what the run will do, and waits for it to say how it ended. A second
 * Ctrl-C leaves at once (the run carries on; the next run prints its log).
 */
function listenForCtrlC(stdin: PassThrough, beat: NodeJS.Timeout, undo: boolean, print: (line: string) => void): () => void {
  let pressed = false;
  const handler = (): void => {
    if (pressed) process.exit(130);
    pressed = true;
    clearInterval(beat);
    stdin.end();
    print(`Ctrl-C: ${undo ? 'the undo finishes on the server (stopping half-way would leave the server half-adopted)' : 'the adoption stops before its next step and puts the server back (from its last step on, it finishes)'}; waiting for it to say how it ended (Ctrl-C again to leave now; the next run prints its log)`);
  };
  process.on('SIGINT', handler);
  return () => process.removeListener('SIGINT', handler);
}

function printPrevious(lines: readonly string[], print: (line: string) => void): void {
  print(`the last adopt run on this server ended without its CLI seeing how (killed, cut off, or killed itself); its log (~/${ADOPT_LOG}):`);
  for (const l of lines.slice(-40)) print(`  | ${l}`);
}
