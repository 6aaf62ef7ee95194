import { ConfigError } from '../config/errors';
import { EXIT, UsageError, UserError } from '../errors';
import { CommandContext } from './command';
import { ContextFlagError } from './context-option';
import { COMMANDS } from './registry-of-commands';
import { nodeOwnedOption, nodeOwnedOptionMessage } from './node-owned-options';
import { terminalLines } from './terminal-lines';

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: portside <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `portside <command> --help` for its options and examples.',
    'Exit status: 0 done, 1 failed (the reason is on stderr), 2 the command line is wrong.',
  ].join('\n');
}

/** Run the CLI; resolves to the exit code. Tests call this directly with their own context. */
export async function main(argv: readonly string[], partial: Partial<CommandContext> = {}): Promise<number> {
  const ctx = contextFor(argv.slice(1), partial);
  const [name] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    ctx.out(usage());
    return EXIT.ok;
  }
  // No command is a wrong command line like any other: the usage goes to stderr, stdout stays empty.
  if (!name) {
    ctx.err(usage());
    return EXIT.usage;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    ctx.err(`portside: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  const nodeOwned = nodeOwnedOption(ctx.argv);
  if (nodeOwned) {
    const { message, detail } = nodeOwnedOptionMessage(nodeOwned);
    return reportError(new UsageError(message, detail), name, ctx);
  }
  try {
    const command = await entry.load();
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.out(command.usage);
      return EXIT.ok;
    }
    return await command.run(ctx);
  } catch (e) {
    return reportError(e, name, ctx);
  }
}

/** The command's context: the process's streams and folders unless a test passes its own. */
function contextFor(argv: readonly string[], partial: Partial<CommandContext>): CommandContext {
  // Progress that updates in place goes only to a real terminal, never to a test's or a pipe's lines.
  const stderr = terminalLines(process.stderr);
  return {
    argv,
    cwd: partial.cwd ?? process.cwd(),
    env: partial.env ?? process.env,
    out: partial.out ?? ((l) => process.stdout.write(l + '\n')),
    err: partial.err ?? stderr.line,
    status: partial.err ? partial.status : stderr.status,
  };
}

/** One line (plus detail) on stderr, and the exit status for the kind of error: see lib/errors.ts. */
function reportError(e: unknown, name: string, ctx: CommandContext): number {
  if (e instanceof UserError) {
    ctx.err(`portside ${name}: ${e.message}`);
    if (e.detail) ctx.err(e.detail);
    return e.exitCode;
  }
  if (e instanceof ConfigError) {
    ctx.err(`portside ${name}: invalid configuration (${e.problems.length} problem${e.problems.length > 1 ? 's' : ''}):`);
    for (const line of e.message.split('\n')) ctx.err(`  - ${line}`);
    return e instanceof ContextFlagError ? EXIT.usage : EXIT.failed;
  }
  // node:util parseArgs reports unknown flags as TypeErrors with a code: those are the user's to fix.
  const code = (e as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    ctx.err(`portside ${name}: ${(e as Error).message}. See portside ${name} --help`);
    return EXIT.usage;
  }
  ctx.err(`portside ${name}: ${(e as Error).message ?? String(e)}`);
  if (ctx.env.PORTSIDE_DEBUG) ctx.err((e as Error).stack ?? '');
  return EXIT.failed;
}
