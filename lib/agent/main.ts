// Portside's agent on the server: scripts/build.js bundles this file (and all it imports) into
// dist/server/agent.js, which the CLI runs as `node ~/.portside/bin/<version>/agent.js <command>` over
// SSH, speaking the protocol of lib/protocol. Each mutating command runs under the server lock and
// either completes or puts everything back as it was.
import { STANDBY_ARG, type AgentCommand, type BaseHeader, type HeaderOf } from '../protocol';
import { Command } from './commands/shared';
import { converge } from './commands/converge';
import { deploy } from './commands/deploy';
import { deployFiles } from './commands/deploy-files';
import { recover } from './commands/recover';
import { remove } from './commands/remove';
import { rollback } from './commands/rollback';
import { status } from './commands/status';
import { sync } from './commands/sync';
import * as lock from './lock';
import * as procs from './procs';
import { AgentError, createInput, currentStep, send, type Input } from './protocol-io';
import { ensureRegistry, registryStatus } from './registry-store';

const COMMANDS: { readonly [C in AgentCommand]: Command<C> } = {
  deploy: { mutates: true, run: deploy },
  'deploy-files': { mutates: true, run: deployFiles },
  rollback: { mutates: true, run: rollback },
  remove: { mutates: true, run: remove },
  sync: { mutates: true, run: sync },
  status: { mutates: false, run: status },
  // Only what every mutating command does first: rebuild a lost registry (`portside local up` uses it).
  repair: { mutates: true, run: async () => ({ registry: registryStatus().state }) },
  // A fleet server to the store's manifest (lib/fleet): under the lock, like a deploy of each service.
  converge: { mutates: true, run: converge },
};

const isCommand = (name: string | undefined): name is AgentCommand => name !== undefined && Object.hasOwn(COMMANDS, name);

async function main(): Promise<void> {
  const input = createInput();
  const command = process.argv[2] === STANDBY_ARG ? await standbyCommand(input) : process.argv[2];
  // The first line is the header; its shape is the command's (lib/protocol/messages.ts).
  const header = (await input.next()) as HeaderOf<AgentCommand> | null;
  if (!header) throw new AgentError('no request received');
  if (!isCommand(command)) throw new AgentError(`unknown agent command "${command}"`);
  const handler = COMMANDS[command] as Command<AgentCommand>;
  const locked = !header.readOnly && handler.mutates;
  if (locked) await lockAndRepair(header, command);
  else await repairBriefly(header);
  try {
    const result = await handler.run(header, input);
    send({ type: 'result', ok: true, ...result });
  } finally {
    if (locked) lock.release();
  }
}

/**
 * A standby (started ahead by the kept connection) waits here, holding no lock and changing nothing,
 * for the line that names its command. Its connection closing first (the keeper idled out) ends it quietly.
 */
async function standbyCommand(input: Input): Promise<string | undefined> {
  // Idle until the command comes: load what every deploy loads later, if the command is not here yet.
  setImmediate(() => procs.warmPm2());
  const request = await input.next();
  if (!request) process.exit(0);
  return request.type === 'run' && typeof request.command === 'string' ? request.command : undefined;
}

/** Take the server lock for the whole command; clean up after a killed holder; rebuild a lost registry. */
async function lockAndRepair(header: BaseHeader, command: AgentCommand): Promise<void> {
  const stale = await lock.acquire(header.who || 'someone', header.what || command);
  try {
    if (stale) recover();
    // A lost or corrupt registry is rebuilt from the server before anything reads it.
    await ensureRegistry({ declared: header.declared, pm2List: procs.pm2List });
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** Read-only commands repair a lost registry too (under the lock, briefly), so `portside services` works at once. */
async function repairBriefly(header: BaseHeader): Promise<void> {
  if (registryStatus().state === 'ok') return;
  await lock.acquire(header.who || 'someone', 'rebuild the registry');
  try {
    await ensureRegistry({ declared: header.declared, pm2List: procs.pm2List });
  } finally {
    lock.release();
  }
}

main().then(
  () => process.exit(0),
  // A program's failure (RunError) carries its numeric exit code: the wire's code is a name.
  (e: AgentError) => {
    send({ type: 'result', ok: false, error: e.message, detail: e.detail, code: typeof e.code === 'string' ? e.code : 'FAILED', step: currentStep() ?? undefined });
    process.exit(1);
  },
);
