/** What every CLI command gets: its arguments, and where to print. Tests pass their own streams. */
export interface CommandContext {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The command's output (stdout), one line or block per call: results, tables, the one --json document. */
  readonly out: (line: string) => void;
  /** Progress, notes, warnings and errors (stderr), one line per call. */
  readonly err: (line: string) => void;
  /** A line on stderr that updates in place (progress), erased by the next `err` line; only on a terminal. */
  readonly status?: (text: string) => void;
}

/**
 * One `portside` sub-command: its help and its run. Its name and one-line summary live in
 * registry-of-commands.ts, which loads this module only when the command is typed.
 */
export interface Command {
  /** Full usage with examples, shown by `portside <name> --help`. */
  readonly usage: string;
  /** Resolves to the exit code (errors thrown are reported by main: see lib/errors.ts). */
  run(ctx: CommandContext): Promise<number>;
}
