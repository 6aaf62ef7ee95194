/**
 * `expect(result).toExitWith(0)`: a command's exit status, and on a mismatch what it printed, so a run
 * that fails once in CI says why instead of "expected 0, received 1".
 */
/** What the e2e helpers return for a finished command (field names differ between helpers). */
interface Finished {
  code: number | null;
  out?: string;
  err?: string;
  stdout?: string;
  stderr?: string;
}

/** The last lines of a stream: enough for the reason, short enough to read in a CI log. */
function tail(text: string | undefined, lines = 40): string {
  if (!text) return '(nothing)';
  const all = text.trimEnd().split('\n');
  return (all.length > lines ? [`… ${all.length - lines} lines before`] : []).concat(all.slice(-lines)).join('\n');
}

expect.extend({
  toExitWith(this: jest.MatcherContext, received: Finished, code: number) {
    const pass = received.code === code;
    return {
      pass,
      message: () =>
        `expected exit status ${this.isNot ? 'not ' : ''}${code}, got ${received.code}\n` +
        `--- stderr ---\n${tail(received.err ?? received.stderr)}\n--- stdout ---\n${tail(received.out ?? received.stdout)}`,
    };
  },
});

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      /** The command exited with this status; on a mismatch the message carries its stderr and stdout. */
      toExitWith(code: number): R;
    }
  }
}

export {};
