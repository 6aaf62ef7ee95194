import { createServer, type Server, type Socket } from 'node:net';
import { AGENT_MISSING_CODE, launchAgentArgv } from '../../remote/agent-launch';
import type { LiveSession } from '../connection';
import { encodeFrame, frameJson, FrameDecoder, FROM_KEEPER, TO_KEEPER, type Frame } from './frames';
import { IdleTimer } from './idle-timer';
import { RemoteRun } from './remote-run';
import { Standby } from './standby';

/** How long the keeper waits for the server's answer to a CLI's hello before giving up on the connection. */
const PING_TIMEOUT_MS = 2000;

export interface KeeperServeOptions {
  readonly session: LiveSession;
  readonly socketPath: string;
  readonly idleMs: number;
  /** The agent to start a standby for at once (the CLI's version). */
  readonly agentPath?: string;
  readonly log: (line: string) => void;
}

/**
 * Serve CLIs on the Unix socket over the one SSH connection: each socket connection is one request
 * (hello, exec, agent or quit). Resolves with why it ended: idle, the connection closed, asked to quit,
 * or the server stopped answering.
 */
export function serveKeeper(o: KeeperServeOptions): Promise<{ server: Server; ended: Promise<string> }> {
  let finish: (why: string) => void = () => undefined;
  const ended = new Promise<string>((resolve) => { finish = resolve; });
  const standby = new Standby(o.session, o.log);
  const idle = new IdleTimer(o.idleMs, () => finish(`idle for ${Math.round(o.idleMs / 1000)} s`));
  void o.session.closed.then(() => finish('the SSH connection closed'));
  const server = createServer((sock) => {
    idle.begin();
    sock.once('close', () => idle.end());
    sock.on('error', () => undefined);
    firstFrame(sock, (frame, rest, decoder) => handle(frame, sock, { ...o, standby, finish }, rest, decoder));
  });
  void ended.then(() => { idle.stop(); standby.stop(); });
  if (o.agentPath) standby.prepare(o.agentPath);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => resolve({ server, ended }));
  });
}

type Context = KeeperServeOptions & { standby: Standby; finish: (why: string) => void };

/** Call `fn` with the socket's first frame; later frames are for the request's own handler. */
function firstFrame(sock: Socket, fn: (frame: Frame, rest: Frame[], decoder: FrameDecoder) => void): void {
  const decoder = new FrameDecoder();
  const onData = (chunk: Buffer): void => {
    const frames = decoder.push(chunk);
    if (!frames.length) return;
    sock.removeListener('data', onData);
    fn(frames[0], frames.slice(1), decoder);
  };
  sock.on('data', onData);
}

function handle(frame: Frame, sock: Socket, c: Context, rest: Frame[], decoder: FrameDecoder): void {
  if (frame.type === TO_KEEPER.hello) return void hello(sock, c);
  if (frame.type === TO_KEEPER.quit) {
    sock.end();
    return c.finish('asked to stop');
  }
  if (frame.type === TO_KEEPER.exec) {
    const { argv } = frameJson<{ argv: string[] }>(frame);
    return relay(sock, new RemoteRun(c.session, argv), rest, decoder);
  }
  if (frame.type === TO_KEEPER.agent) return void agent(sock, c, frameJson<{ agentPath: string; command: string }>(frame), rest, decoder);
  sock.destroy();
}

/** Answer a CLI's hello once the server has answered a ping; a silent server ends the keeper. */
async function hello(sock: Socket, c: Context): Promise<void> {
  if (await c.session.ping(PING_TIMEOUT_MS)) return void sock.end(encodeFrame(FROM_KEEPER.ready, { fingerprint: c.session.hostKeyFingerprint }));
  sock.destroy();
  c.finish('the server did not answer a ping');
}

/** Run the agent: the standby for its path when one waits, else a launch as the CLI would; then prepare the next standby. */
async function agent(sock: Socket, c: Context, req: { agentPath: string; command: string }, rest: Frame[], decoder: FrameDecoder): Promise<void> {
  const taken = c.standby.take(req.agentPath, req.command);
  c.log(`${req.command}: ${taken ? 'handed the standby agent' : 'launched the agent'}`);
  const run = taken ?? new RemoteRun(c.session, launchAgentArgv(req.agentPath, req.command));
  relay(sock, run, rest, decoder);
  const result = await run.done.catch(() => undefined);
  // The next standby starts once this command is over: not competing with it for the server's CPU.
  if (result && result.code !== AGENT_MISSING_CODE) c.standby.prepare(req.agentPath);
}

/** Pipe the socket's stdin frames into `run` and its output and exit back; a CLI that goes away hangs it up. */
function relay(sock: Socket, run: RemoteRun, rest: Frame[], decoder: FrameDecoder): void {
  let over = false;
  const onFrame = (f: Frame): void => {
    if (f.type === TO_KEEPER.stdin) run.stdin.write(f.payload);
    else if (f.type === TO_KEEPER.stdinEnd) run.stdin.end();
    else if (f.type === TO_KEEPER.hangUp) run.hangUp();
  };
  rest.forEach(onFrame);
  sock.on('data', (chunk: Buffer) => decoder.push(chunk).forEach(onFrame));
  sock.once('close', () => { if (!over) run.hangUp(); });
  run.attach((stream, chunk) => sock.write(encodeFrame(stream === 'stdout' ? FROM_KEEPER.stdout : FROM_KEEPER.stderr, chunk)));
  run.done.then(
    (r) => { over = true; sock.end(encodeFrame(FROM_KEEPER.exit, { code: r.code, signal: r.signal })); },
    (e: Error) => { over = true; sock.end(encodeFrame(FROM_KEEPER.failed, { message: e.message })); },
  );
}
