import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { UserError } from '../errors';
import { SERVER_BUNDLE_DIR } from '../package-root';
import { BIN_DIR } from '../remote/layout';
import { SshSession } from '../ssh';
import { CtrlC } from './ctrl-c';
import { tarStream } from './tar-stream';

/** The agent's files: the bundles `npm run build` makes from lib/agent (dist/server). */
function agentBundle(): { version: string; files: Array<{ path: string; source: string; size: number; mode: number }> } {
  const names = readdirSync(SERVER_BUNDLE_DIR).filter((n) => n.endsWith('.js')).sort();
  const h = createHash('sha256');
  const files = names.map((n) => {
    const source = join(SERVER_BUNDLE_DIR, n);
    h.update(n).update('\0').update(readFileSync(source));
    return { path: n, source, size: statSync(source).size, mode: 0o644 };
  });
  return { version: h.digest('hex').slice(0, 16), files };
}

/** Messages the agent sends; see assets/server/protocol.js. */
export type AgentMessage =
  | { type: 'state'; [k: string]: unknown }
  | { type: 'step'; name: string; status: 'start' | 'done'; ms?: number }
  | { type: 'note'; text: string }
  | { type: 'agent'; pid: number }
  | { type: 'interrupt'; stopping: boolean; step: string | null }
  | { type: 'result'; ok: boolean; error?: string; detail?: string; code?: string; step?: string; [k: string]: unknown };

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
  if (check.code !== 0) {
    // A fixed script; the only variable is passed as a positional parameter, never spliced in.
    const script = 'set -e; d=$1; rm -rf "$d.tmp"; mkdir -p "$d.tmp"; tar -x -f - -C "$d.tmp" --no-same-owner; '
      + 'cp "$d.tmp/preload.js" "${d%/*}/.preload.tmp"; mv -f "${d%/*}/.preload.tmp" "${d%/*}/preload.js"; rm -rf "$d"; mv "$d.tmp" "$d"';
    await ssh.run(['sh', '-c', script, 'sh', dir], { stdin: tarStream(files) });
  }
  return `${dir}/agent.js`;
}

export interface AgentCall {
  readonly command: 'deploy' | 'deploy-files' | 'rollback' | 'remove' | 'status' | 'sync';
  readonly header: Record<string, unknown>;
  /** Called with the server's state; returns the plan (and an optional upload), or null to stop and change nothing. */
  readonly onState?: (state: Record<string, unknown>) => Promise<{ plan: Record<string, unknown>; upload?: Readable } | null>;
  readonly onMessage?: (m: AgentMessage) => void;
  /** Raw output of tools on the server (npm). */
  readonly onLog?: (text: string) => void;
  /** Where Ctrl-C's lines go. @default - stderr */
  readonly log?: (line: string) => void;
}

/** Run one agent command over the session and resolve its result; a failure becomes an AgentFailure. */
export async function callAgent(ssh: SshSession, call: AgentCall): Promise<Record<string, unknown>> {
  // Ctrl-C is handled for the whole call: the agent finishes on its own, so the CLI must say what happens.
  const ctrlC = new CtrlC(ssh, call.log ?? ((l) => process.stderr.write(`${l}\n`)));
  const unlisten = ctrlC.listen();
  try {
    return await talkToAgent(ssh, call, ctrlC);
  } finally {
    unlisten();
  }
}

async function talkToAgent(ssh: SshSession, call: AgentCall, ctrlC: CtrlC): Promise<Record<string, unknown>> {
  const agent = await ensureAgent(ssh);
  const stdin = new PassThrough();
  stdin.write(JSON.stringify(call.header) + '\n');
  if (!call.onState) stdin.end();
  let result: AgentMessage | undefined;
  let pending = '';
  let chain = Promise.resolve();
  let stateError: unknown;
  const handle = async (m: AgentMessage): Promise<void> => {
    if (m.type === 'state' && call.onState) {
      try {
        const answer = await call.onState(m);
        if (!answer) {
          stdin.end(JSON.stringify({ type: 'abort' }) + '\n');
          return;
        }
        stdin.write(JSON.stringify({ type: 'plan', ...answer.plan, upload: !!answer.upload }) + '\n');
        if (answer.upload) {
          answer.upload.on('error', (e) => {
            stateError = e;
            stdin.destroy(e);
          });
          answer.upload.pipe(stdin);
        } else stdin.end();
      } catch (e) {
        stateError = e;
        stdin.end(JSON.stringify({ type: 'abort' }) + '\n');
      }
      return;
    }
    if (m.type === 'result') result = m;
    // After Ctrl-C, CtrlC prints the ending: the agent's notes about its clean-up would contradict it.
    if (!ctrlC.interrupted) call.onMessage?.(m);
  };
  const exec = await ssh.exec(['node', agent, call.command], {
    stdin,
    onStdout: (chunk) => {
      pending += chunk.toString('utf8');
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        let m: AgentMessage;
        try {
          m = JSON.parse(line);
        } catch {
          call.onLog?.(line + '\n');
          continue;
        }
        ctrlC.seen(m);
        chain = chain.then(() => handle(m));
      }
    },
    onStderr: (chunk) => {
      if (!ctrlC.interrupted) call.onLog?.(chunk.toString('utf8'));
    },
  });
  await chain;
  // CtrlC ends the process with its own last line; nothing more is said here.
  if (ctrlC.interrupted) await new Promise<never>(() => undefined);
  if (stateError) throw stateError;
  if (!result) {
    throw new UserError(`the server's agent ended without a result (exit ${exec.code}${exec.signal ? `, ${exec.signal}` : ''})`, exec.stderr.trim().split('\n').slice(-10).join('\n'));
  }
  const r = result as Extract<AgentMessage, { type: 'result' }>;
  if (!r.ok) throw new AgentFailure(r.error ?? 'failed', r.detail, r.code ?? 'FAILED', r.step);
  return r;
}
