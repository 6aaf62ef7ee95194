import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { terminalLines } from '../../lib/cli/terminal-lines';
import { formatStepTime, printer, uploadProgress } from '../../lib/deploy/step-lines';

/** A stream that records what was written; `isTTY` as a terminal's tty.WriteStream reports it. */
function stream(isTTY: boolean, columns = 80): { writes: string[]; isTTY: boolean; columns: number; write(s: string): boolean } {
  const writes: string[] = [];
  return { writes, isTTY, columns, write: (s: string) => writes.push(s) > 0 };
}

describe('step lines', () => {
  test('a step is announced when it starts and shows its time when it ends', () => {
    const lines: string[] = [];
    const timings: Record<string, number> = {};
    const print = printer((l) => lines.push(l), timings);
    print({ type: 'step', name: 'upload', status: 'start' });
    print({ type: 'note', text: 'kept 3 files' });
    print({ type: 'step', name: 'upload', status: 'done', ms: 123 });
    print({ type: 'step', name: 'switch', status: 'start' });
    print({ type: 'step', name: 'switch', status: 'done', ms: 4 });
    expect(lines).toEqual(['→ upload', '  kept 3 files', '✓ upload (0.12 s)', '→ switch', '✓ switch (0.00 s)']);
    expect(timings).toEqual({ upload: 123, switch: 4 });
  });

  test('a step that fails (no done event) gets no ✓ line', () => {
    const lines: string[] = [];
    const print = printer((l) => lines.push(l), {});
    print({ type: 'step', name: 'install', status: 'start' });
    expect(lines).toEqual(['→ install']);
  });

  test.each([[0, '0.00 s'], [5, '0.01 s'], [1234, '1.23 s'], [61_000, '61.00 s']])('%d ms reads %s', (ms, shown) => {
    expect(formatStepTime(ms)).toBe(shown);
  });
});

describe('upload progress', () => {
  const data = Buffer.alloc(932, 'x');
  const chunks = () => Readable.from([data.subarray(0, 300), data.subarray(300, 600), data.subarray(600)]);

  test('not a terminal: no progress lines at all, the bytes pass through unchanged', async () => {
    const out = stream(false);
    const lines = terminalLines(out);
    expect(lines.status).toBeUndefined();
    const piped = uploadProgress(chunks(), data.length, '932 B', lines.status);
    expect(await text(piped)).toBe(data.toString());
    expect(out.writes).toEqual([]);
  });

  test('a terminal: one line updated in place, erased when the upload ends', async () => {
    const out = stream(true);
    const lines = terminalLines(out);
    const piped = uploadProgress(chunks(), data.length, '932 B', lines.status);
    expect(await text(piped)).toBe(data.toString());
    expect(out.writes.join('')).toBe(
      '  uploading… 32% of 932 B\r\x1b[2K  uploading… 64% of 932 B\r\x1b[2K  uploading… 100% of 932 B\r\x1b[2K',
    );
    expect(out.writes.join('')).not.toContain('\n');
  });
});

describe('terminalLines', () => {
  test('not a terminal: whole lines only', () => {
    const out = stream(false);
    const lines = terminalLines(out);
    lines.line('→ upload');
    lines.line('✓ upload (0.12 s)');
    expect(out.writes.join('')).toBe('→ upload\n✓ upload (0.12 s)\n');
  });

  test('a terminal: a whole line first erases the status line, so progress leaves no trail', () => {
    const out = stream(true);
    const lines = terminalLines(out);
    lines.line('→ upload');
    lines.status!('  uploading… 50% of 932 B');
    lines.line('✓ upload (0.12 s)');
    lines.line('→ install');
    expect(out.writes.join('')).toBe('→ upload\n  uploading… 50% of 932 B\r\x1b[2K✓ upload (0.12 s)\n→ install\n');
  });

  test('a terminal: a status wider than the terminal is cut, so erasing it leaves no wrapped rows', () => {
    const out = stream(true, 20);
    terminalLines(out).status!('x'.repeat(50));
    expect(out.writes).toEqual(['x'.repeat(19)]);
  });
});
