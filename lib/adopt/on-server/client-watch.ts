/**
 * The adopt run's view of its CLI: the lines it sends on stdin, and whether it is still there. Gone
 * means stdin ended or failed (the CLI was killed, the SSH connection closed) or nothing came for
 * CLIENT_SILENT_MS although the CLI beats every BEAT_MS (a connection that hangs without closing).
 */
import { LineDecoder } from '../../protocol/framing';
import { CLIENT_SILENT_MS, ClientLine, RunHeader } from './messages';

/** Why a CLI last heard at `lastHeard` counts as gone at `now`, or null while it is there; pure. */
export function goneReason(ended: string | null, lastHeard: number, now: number, silentMs = CLIENT_SILENT_MS): string | null {
  if (ended) return ended;
  const quiet = now - lastHeard;
  return quiet > silentMs ? `no word from the CLI for ${(quiet / 1000).toFixed(1)} s (the connection hangs)` : null;
}

export class ClientWatch {
  private lastHeard = Date.now();
  private ended: string | null = null;
  private readonly queue: Array<RunHeader | ClientLine> = [];
  private wake: (() => void) | null = null;

  constructor(stdin: NodeJS.ReadableStream, private readonly silentMs = CLIENT_SILENT_MS) {
    const decoder = new LineDecoder();
    stdin.on('data', (chunk: Buffer) => {
      this.lastHeard = Date.now();
      for (const line of decoder.push(chunk).lines) if (line.message && line.message.type !== 'beat') this.queue.push(line.message as unknown as ClientLine);
      this.poke();
    });
    const end = (why: string) => () => {
      this.ended ??= why;
      this.poke();
    };
    stdin.on('end', end('the CLI is gone (its connection closed: killed, interrupted or cut)'));
    stdin.on('error', end('the CLI is gone (reading from it failed)'));
  }

  /** Why the CLI counts as gone, or null while it is there. */
  gone(): string | null {
    return goneReason(this.ended, this.lastHeard, Date.now(), this.silentMs);
  }

  /** The CLI's next line (beats left out), or null once it is gone. */
  async next(): Promise<RunHeader | ClientLine | null> {
    for (;;) {
      if (this.queue.length) return this.queue.shift()!;
      if (this.gone()) return null;
      // Woken by a line or the end of stdin; the timer notices a silence.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = null;
    }
  }

  private poke(): void {
    this.wake?.();
  }
}
