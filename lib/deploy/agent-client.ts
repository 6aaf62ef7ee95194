import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { UserError } from '../errors';
import { SERVER_BUNDLE_DIR } from '../package-root';
import { BIN_DIR } from '../remote/layout';
import { AGENT_MISSING_CODE, AGENT_MISSING_LINE, launchAgentArgv } from '../remote/agent-launch';
import { AgentCommand, AgentMessage, ClientMessage, encodeLine, HeaderOf, LineDecoder, PlanMessage, PlanOf, ResultMessage, ResultOf, StateOf } from '../protocol';
import type { ExecResult, SshSession } from '../ssh';
import { CtrlC } from './ctrl-c';
import { interruptScope } from './interrupt-scope';
import { tarStream } from './tar-stream';

/** The agent's files: the bundles `npm run build` makes from lib/agent (dist/server); a fleet stores them too. */
export function agentBundle(): { version: string; files: Array<{ path: string; source: string; size: number; mode: number }> } {
  const names = readdirSync(SERVER_BUNDLE_DIR).filter((n) => n.endsWith('.js')).sort();
  const stats = names.map((n) => ({ name: n, source: join(SERVER_BUNDLE_DIR, n), st: statSync(join(SERVER_BUNDLE_DIR, n)) }));
  const files = stats.map(({ name, source, st }) => ({ path: name, source, size: st.size, mode: 0o644 }));
  return { version: builtVersion(stats) ?? hashVersion(stats.map((f) => f.source)), files };
}

/** sha256 over each file's name and bytes: the version's definition (scripts/build.js records the same). */
function hashVersion(sources: readonly string[]): string {
  const h = createHash('sha256');
  for (const source of sources) h.update(basename(source)).update('\0').update(readFileSync(source));
  return h.digest('hex').slice(0, 16);
}

/**
 * The version scripts/build.js recorded in dist/build.json, while every file still has the size and
 * mtime it had then; else undefined (hash the files). Saves reading and hashing ~2 MB at every deploy.
 */
function builtVersion(files: ReadonlyArray<{ name: string; st: { size: number; mtimeMs: number } }>): string | undefined {
  try {
    const { server } = JSON.parse(readFileSync(join(SERVER_BUNDLE_DIR, '..', 'build.json'), 'utf8')) as { server?: { version: string; files: Array<{ name: string; size: number; mtimeMs: number }> } };
    const same = !!server && server.files.length === files.length
      && server.files.every((b, i) => b.name === files[i].name && b.size === files[i].st.size && b.mtimeMs === files[i].st.mtimeMs);
    return same ? server!.version : undefined;
  } catch {
    return undefined;
  }
}

export type { AgentMessage } from '../protocol';
export { launchAgentArgv } from '../remote/agent-launch';

/** A failure reported by the agent: what failed and why, with the agent's detail (a log tail). */
export class AgentFailure extends UserError {
  constructor(message: string, detail: string | undefined, public readonly code: string, public readonly step?: string) {
    super(message, detail);
  }
}

/**
 * Make sure this version of the agent is on the server (a hash-named folder, so upgrades never
 * break a deploy in flight), and return its path. Costs one round trip when it is already there.
 */
export async function ensureAgent(ssh: SshSession): Promise<string> {
  const { version, files } = agentBundle();
  const dir = `${BIN_DIR}/${version}`;
  const check = await ssh.exec(['test', '-f', `${dir}/agent.js`]);
  if (check.code !== 0) await installAgent(ssh, dir, files);
  return `${dir}/agent.js`;
}

/** Put the agent's files into `dir` on the server (whole, by rename), and the preload beside the versions. */
async function installAgent(ssh: SshSession, dir: string, files: ReturnType<typeof agentBundle>['files']): Promise<void> {
  // A fixed script; the only variable is passed as a positional parameter, never spliced in.
  const script = 'set -e; d=$1; rm -rf "$d.tmp"; mkdir -p "$d.tmp"; tar -x -f - -C "$d.tmp" --no-same-owner; '
    + 'cp "$d.tmp/preload.js" "${d%/*}/.preload.tmp"; mv -f "${d%/*}/.preload.tmp" "${d%/*}/preload.js"; rm -rf "$d"; mv "$d.tmp" "$d"';
  await ssh.run(['sh', '-c', script, 'sh', dir], { stdin: tarStream(files) });
}

/** One agent command: its typed header, and how to answer its state (commands that send one). */
export interface AgentCall<C extends AgentCommand> {
  readonly command: C;
  readonly header: HeaderOf<C>;
  /**
   * A message sent after the header as soon as it resolves (the deploy's digest, see DeployHeader): it
   * must resolve, never reject, when the header says one follows (the agent waits for it). @default - none
   */
  readonly afterHeader?: Promise<ClientMessage<C>>;
  /** Called with the server's state; returns the plan (and an optional upload), or null to stop and change nothing. */
  readonly onState?: (state: StateOf<C>) => Promise<{ plan: PlanOf<C>; upload?: Readable } | null>;
  readonly onMessage?: (m: AgentMessage<C>) => void;
  /** Raw output of tools on the server (npm). */
  readonly onLog?: (text: string) => void;
  /** Where Ctrl-C's lines go. @default - stderr */
  readonly log?: (line: string) => void;
}

/** Run one agent command over the session and resolve its result; a failure becomes an AgentFailure. */
export async function callAgent<C extends AgentCommand>(ssh: SshSession, call: AgentCall<C>): Promise<ResultOf<C>> {
  // Ctrl-C is handled for the whole call: the agent finishes on its own, so the CLI must say what happens.
  const ctrlC = new CtrlC(ssh, call.log ?? ((l) => process.stderr.write(`${l}\n`)));
  // Within a fleet rollout the rollout owns Ctrl-C: this call only asks its agent to stop when told.
  const outer = interruptScope.getStore();
  const unlisten = outer ? outer.onStop(() => ctrlC.askToStop()) : ctrlC.listen();
  try {
    return await talkToAgent(ssh, call, ctrlC);
  } finally {
    unlisten();
  }
}

/** The CLI's side of stdin: the header, then the plan (or abort) and the upload once the state arrives. */
class Requests<C extends AgentCommand> {
  readonly stdin = new PassThrough();
  /** A failure while planning or uploading: reported after the agent has ended. */
  error: unknown;

  constructor(private readonly call: AgentCall<C>) {
    this.stdin.write(encodeLine(call.header));
    // The agent sends its state only after this message: the plan (an answer to the state) always comes later.
    call.afterHeader?.then((m) => this.stdin.writable && this.stdin.write(encodeLine(m)));
    if (!call.onState) this.stdin.end();
  }

  /** Answer the server's state with the plan, then the upload's bytes; or abort (nothing changes). */
  async answer(state: StateOf<C>): Promise<void> {
    try {
      const answer = await this.call.onState!(state);
      if (!answer) return void this.stdin.end(encodeLine({ type: 'abort' } satisfies ClientMessage<C>));
      const plan = { type: 'plan', ...answer.plan, upload: !!answer.upload } as PlanMessage<C>;
      this.stdin.write(encodeLine(plan));
      if (!answer.upload) return void this.stdin.end();
      answer.upload.on('error', (e) => {
        this.error = e;
        this.stdin.destroy(e);
      });
      answer.upload.pipe(this.stdin);
    } catch (e) {
      this.error = e;
      this.stdin.end(encodeLine({ type: 'abort' } satisfies ClientMessage<C>));
    }
  }
}

async function talkToAgent<C extends AgentCommand>(ssh: SshSession, call: AgentCall<C>, ctrlC: CtrlC): Promise<ResultOf<C>> {
  const { version, files } = agentBundle();
  const dir = `${BIN_DIR}/${version}`;
  let run = await runAgent(ssh, call, ctrlC, `${dir}/agent.js`);
  if (run === 'missing') {
    // A new version of the agent (or a new server): send it, then launch it again with the same request.
    await installAgent(ssh, dir, files);
    run = await runAgent(ssh, call, ctrlC, `${dir}/agent.js`);
    if (run === 'missing') throw new UserError(`the agent was installed at ${dir} on the server, but it is not there to run`);
  }
  const { exec, result, requests } = run;
  // CtrlC ends the process with its own last line; nothing more is said here.
  if (ctrlC.interrupted) await new Promise<never>(() => undefined);
  if (requests.error) throw requests.error;
  if (!result) {
    throw new UserError(`the server's agent ended without a result (exit ${exec.code}${exec.signal ? `, ${exec.signal}` : ''})`, exec.stderr.trim().split('\n').slice(-10).join('\n'));
  }
  if (!result.ok) throw new AgentFailure(result.error ?? 'failed', result.detail, result.code ?? 'FAILED', result.step);
  // Narrowed by `ok` above; tsc does not narrow a union that depends on C.
  return result as unknown as ResultOf<C>;
}

/** One launch of the agent: its exit, its result message and the requests sent; 'missing' when the server has no agent there. */
async function runAgent<C extends AgentCommand>(ssh: SshSession, call: AgentCall<C>, ctrlC: CtrlC, agentPath: string)
  : Promise<'missing' | { exec: ExecResult; result: ResultMessage<C> | undefined; requests: Requests<C> }> {
  const requests = new Requests(call);
  const decoder = new LineDecoder();
  let result: ResultMessage<C> | undefined;
  let said = false;
  let chain = Promise.resolve();
  const handle = async (m: AgentMessage<C>): Promise<void> => {
    if (m.type === 'state' && call.onState) return requests.answer(m);
    if (m.type === 'result') result = m;
    // After Ctrl-C, CtrlC prints the ending: the agent's notes about its clean-up would contradict it.
    if (!ctrlC.interrupted) call.onMessage?.(m);
  };
  let stderr = '';
  // A kept connection (lib/ssh/keeper) may hand over an agent already started; else launch one.
  const exec = await (ssh.execAgent ? ssh.execAgent.bind(ssh, agentPath, call.command) : ssh.exec.bind(ssh, launchAgentArgv(agentPath, call.command)))({
    stdin: requests.stdin,
    onStdout: (chunk) => {
      said = true;
      for (const line of decoder.push(chunk).lines) {
        if (!line.message) {
          call.onLog?.(line.text + '\n');
          continue;
        }
        const m = line.message as unknown as AgentMessage<C>;
        ctrlC.seen(m);
        chain = chain.then(() => handle(m));
      }
    },
    onStderr: (chunk) => {
      // Held back until the launch is known to have found the agent: the missing line is not the user's news.
      if (!said && stderr.length < 4096) return void (stderr += chunk.toString('utf8'));
      if (!ctrlC.interrupted) call.onLog?.(chunk.toString('utf8'));
    },
  });
  await chain;
  if (!said && exec.code === AGENT_MISSING_CODE && exec.stderr.trim() === AGENT_MISSING_LINE) return 'missing';
  if (stderr && !ctrlC.interrupted) call.onLog?.(stderr);
  return { exec, result, requests };
}
