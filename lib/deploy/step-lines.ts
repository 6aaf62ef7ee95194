import { Readable, Transform } from 'node:stream';
import type { AgentMessage } from '../protocol';

/** A step's time as every step line shows it: `0.12 s`. */
export function formatStepTime(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * Print the agent's step events as they come, and keep their timings. A step is announced when it
 * starts (`→ upload`: what is running now, and what the fault-injection tests wait for) and gets its
 * time when it ends (`✓ upload (0.12 s)`); a step that fails has no ✓ line, its error follows.
 */
export function printer(log: (line: string) => void, timings: Record<string, number>): (m: AgentMessage) => void {
  return (m) => {
    if (m.type === 'step' && m.status === 'start') log(`→ ${m.name}`);
    if (m.type === 'step' && m.status === 'done') {
      timings[m.name] = m.ms ?? 0;
      log(`✓ ${m.name} (${formatStepTime(m.ms ?? 0)})`);
    }
    if (m.type === 'note') log(`  ${m.text}`);
  };
}

/**
 * Count an upload's bytes as they go. On a terminal (`status` given) one line shows the percentage and
 * is updated in place, then erased when the upload ends; elsewhere (a pipe, a CI log) nothing is
 * printed, because a line per quarter of a 900-byte upload is noise there and the release line
 * already says how much is sent. `size` is `total` as the user reads it (e.g. `932 B`).
 */
export function uploadProgress(stream: Readable, total: number, size: string, status?: (text: string) => void): Readable {
  if (!status) return stream;
  let sent = 0;
  let shown = -1;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      const pct = total ? Math.min(100, Math.floor((sent / total) * 100)) : 100;
      if (pct !== shown) {
        shown = pct;
        status(`  uploading… ${pct}% of ${size}`);
      }
      cb(null, chunk);
    },
    flush(cb) {
      status('');
      cb();
    },
  });
  stream.on('error', (e) => {
    status('');
    counter.destroy(e);
  });
  return stream.pipe(counter);
}
