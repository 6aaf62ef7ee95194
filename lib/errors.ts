/**
 * Errors a user can fix, shared by every layer (the CLI, lib/deploy, the targets): each is printed as
 * one line plus an optional detail, never as a stack trace. The CLI turns `exitCode` into its exit
 * status: 1 when something went wrong after the arguments were accepted, 2 when the arguments
 * themselves are wrong (see UsageError).
 */
/** The CLI's exit statuses. */
export const EXIT = {
  ok: 0,
  /** Something went wrong after the arguments were accepted (a folder, the server, a failed check). */
  failed: 1,
  /** The command line is wrong (UsageError, an unknown command or option). */
  usage: 2,
} as const;

export class UserError extends Error {
  constructor(message: string, public readonly detail?: string, public readonly exitCode: number = EXIT.failed) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * The arguments themselves are wrong, whatever the server or the files hold: an unknown or missing
 * argument, or a value that breaks its rule (a service name, a port, a number, a release id, a
 * target, a host, a `-c` pair). Checked before connecting; the CLI exits 2, as getopt-style tools do.
 */
export class UsageError extends UserError {
  constructor(message: string, detail?: string) {
    super(message, detail, EXIT.usage);
    this.name = 'UsageError';
  }
}
