/**
 * The one place where argv becomes a shell line. OpenSSH hands the remote login shell a single string
 * (`$SHELL -c "<line>"`), so every argument must survive a POSIX shell unchanged.
 */

/** Words made only of these characters mean the same quoted or not, so they stay readable in logs. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+,./:-][A-Za-z0-9_@%+,./:=-]*$/;

/**
 * Quote one argument for a POSIX shell (sh, bash, dash, zsh): single quotes, with each `'` written as
 * `'\''`. Inside single quotes nothing is special, so newlines, `$()`, backticks and `;` arrive as bytes.
 * @throws if `arg` contains a NUL byte (no shell argument can hold one; it would silently truncate)
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) {
    throw new Error(`shellQuote: argument contains a NUL byte at index ${arg.indexOf('\0')}; shell arguments cannot carry NUL`);
  }
  if (PLAIN_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Join argv into one shell line, every element quoted by `shellQuote`. */
export function toShellLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('toShellLine: argv is empty; give at least the command name');
  return argv.map(shellQuote).join(' ');
}
