/** Where a stream of lines goes: `write` and, for a terminal, `isTTY` and `columns` (a `tty.WriteStream`). */
export interface LineStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Whole lines; on a terminal also one status line that is rewritten in place. */
export interface TerminalLines {
  readonly line: (text: string) => void;
  /** Show `text` in place of the previous status ('' erases it); absent when the stream is not a terminal. */
  readonly status?: (text: string) => void;
}

/**
 * Lines for a stream. On a terminal a status line (progress) is drawn without a newline and erased
 * before the next whole line, so progress never leaves a trail; anywhere else there is no status line
 * at all, so logs and pipes get only whole lines.
 */
export function terminalLines(stream: LineStream): TerminalLines {
  let showing = false;
  const erase = (): void => {
    if (showing) stream.write('\r\x1b[2K');
    showing = false;
  };
  const line = (text: string): void => {
    erase();
    stream.write(text + '\n');
  };
  if (!stream.isTTY) return { line };
  return {
    line,
    status: (text) => {
      erase();
      if (!text) return;
      // A line wider than the terminal wraps, and erasing would then leave its first rows behind.
      const width = Math.max(10, (stream.columns ?? 80) - 1);
      stream.write(text.length > width ? text.slice(0, width) : text);
      showing = true;
    },
  };
}
