/** What every CLI command gets: its arguments, and where to print. Tests pass their own streams. */
export interface CommandContext {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** A line on stderr that updates in place (progress), erased by the next `err` line; only on a terminal. */
  readonly status?: (text: string) => void;
}

/** One `portside` sub-command. `run` resolves to the exit code. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full usage with examples, shown by `portside <name> --help`. */
  readonly usage: string;
  run(ctx: CommandContext): Promise<number>;
}

/** An error the user can fix: printed as one line (plus detail), never as a stack trace. */
export class UserError extends Error {
  constructor(message: string, public readonly detail?: string, public readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}
