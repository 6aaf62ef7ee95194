/**
 * The log of the last adopt or undo run on this server (ADOPT_LOG in the deploy user's home): every
 * line the run said, with its time, and one last line saying how it ended and whether its CLI was
 * still there to see it. The next run prints it when its CLI was not (killed, cut off), or when
 * there is no last line (the run itself was killed).
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const ENDED = '=== ended: ';
const SEEN = 'its CLI saw this ending';

/** The previous run's lines when its CLI never saw how it ended, else null; pure. */
export function unseenEnding(text: string): string[] | null {
  const lines = text.split('\n').filter(Boolean);
  if (!lines.length) return null;
  const last = lines[lines.length - 1];
  return last.startsWith(ENDED) && last.endsWith(SEEN) ? null : lines;
}

export class RunLog {
  constructor(private readonly path: string) {}

  /** The previous run's log, when its CLI did not see its ending (see unseenEnding). */
  previousUnseen(): string[] | null {
    try {
      return unseenEnding(readFileSync(this.path, 'utf8'));
    } catch {
      return null;
    }
  }

  /** Start this run's log (the previous one is replaced). */
  start(line: string): void {
    writeFileSync(this.path, '');
    this.line(line);
  }

  line(text: string): void {
    try {
      appendFileSync(this.path, `${new Date().toISOString()} ${text}\n`);
    } catch {
      /* a log that cannot be written must not stop the run */
    }
  }

  /** The last line: how the run ended, and whether its CLI was there to see it. */
  end(how: string, cliGone: string | null): void {
    try {
      appendFileSync(this.path, `${ENDED}${how}; ${cliGone ? `its CLI never saw this ending (${cliGone})` : SEEN}\n`);
    } catch {
      /* as above */
    }
  }
}
