/**
 * The wire's framing (lib/protocol/framing.ts): lines however the bytes are chunked, and the switch to
 * the raw upload decided by the parsed plan, whatever the order of its keys.
 */
import { encodeLine, LineDecoder, parseLine, startsUpload } from '../../lib/protocol';

/** Feed `bytes` to a decoder in chunks of `size` (1 = every byte alone); collect lines and raw bytes. */
function decode(bytes: Buffer, size: number): { lines: Array<unknown>; raw: string } {
  const d = new LineDecoder(startsUpload);
  const lines: unknown[] = [];
  const raw: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    const out = d.push(bytes.subarray(i, i + size));
    lines.push(...out.lines.map((l) => l.message ?? { text: l.text }));
    raw.push(out.raw);
  }
  return { lines, raw: Buffer.concat(raw).toString('latin1') };
}

const TAR = Buffer.from('ustar\x00\n{"type":"plan","upload":true}\n\xff\xfe raw bytes, newlines included\n', 'latin1');

describe('framing', () => {
  test.each([1, 2, 3, 7, 64, 100_000])('a plan with an upload, then raw bytes, split into chunks of %d byte(s)', (size) => {
    const bytes = Buffer.concat([Buffer.from(encodeLine({ type: 'plan', id: 'r1', upload: true })), TAR]);
    const { lines, raw } = decode(bytes, size);
    expect(lines).toEqual([{ type: 'plan', id: 'r1', upload: true }]);
    // Everything after the plan's newline is data, even bytes that look like a message.
    expect(raw).toBe(TAR.toString('latin1'));
  });

  test.each([
    ['upload first', '{"upload":true,"type":"plan","id":"r1"}'],
    ['type last', '{"id":"r1","upload":true,"type":"plan"}'],
    ['spaces', '{ "type" : "plan", "upload" : true, "id" : "r1" }'],
    ['keys after upload', '{"type":"plan","upload":true,"id":"r1","keep":["a"]}'],
  ])('the upload starts after a plan whatever its key order (%s)', (_what, line) => {
    // The agent's old test (starts with {"type":"plan", ends with "upload":true}) failed all four.
    const { lines, raw } = decode(Buffer.from(`${line}\nDATA\n{"type":"abort"}\n`), 5);
    expect(lines).toHaveLength(1);
    expect(raw).toBe('DATA\n{"type":"abort"}\n');
  });

  test.each([
    ['upload false', '{"type":"plan","upload":false}'],
    ['upload the string "true"', '{"type":"plan","upload":"true"}'],
    ['not a plan', '{"type":"note","upload":true}'],
    ['a plan named in a string', '{"type":"note","text":"{\\"type\\":\\"plan\\",\\"upload\\":true}"}'],
  ])('no upload starts for %s: the next line is a message', (_what, line) => {
    const { lines, raw } = decode(Buffer.from(`${line}\n{"type":"abort"}\n`), 4);
    expect(lines).toEqual([JSON.parse(line), { type: 'abort' }]);
    expect(raw).toBe('');
  });

  test('a multi-byte character cut between chunks arrives whole', () => {
    const bytes = Buffer.from(encodeLine({ type: 'note', text: 'ünïcødé ✓ → done' }));
    expect(decode(bytes, 1).lines).toEqual([{ type: 'note', text: 'ünïcødé ✓ → done' }]);
  });

  test('a line that is not a JSON object is kept as text (a tool\'s stray output)', () => {
    const { lines } = decode(Buffer.from('npm WARN something\n[1,2]\nnull\n{"type":"agent","pid":7}\n'), 3);
    expect(lines).toEqual([{ text: 'npm WARN something' }, { text: '[1,2]' }, { text: 'null' }, { type: 'agent', pid: 7 }]);
  });

  test('an unterminated last line is returned by end(), and nothing after the upload starts', () => {
    const d = new LineDecoder(startsUpload);
    expect(d.push(Buffer.from('{"type":"abort"}')).lines).toEqual([]);
    expect(d.end()).toEqual([{ message: { type: 'abort' } }]);
    const u = new LineDecoder(startsUpload);
    u.push(Buffer.from('{"type":"plan","upload":true}\npartial'));
    expect(u.raw).toBe(true);
    expect(u.end()).toEqual([]);
  });

  test('encodeLine is one line of JSON; parseLine reads it back', () => {
    const line = encodeLine({ type: 'note', text: 'two\nlines' });
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(parseLine(line)).toEqual({ type: 'note', text: 'two\nlines' });
    expect(parseLine('{"cut":')).toBeNull();
  });
});

describe('a long line in many chunks', () => {
  test('arrives once, whole, and the raw bytes after it in the same chunk are raw', () => {
    const d = new LineDecoder(startsUpload);
    const big = encodeLine({ type: 'plan', upload: true, files: Array.from({ length: 3000 }, (_, i) => ({ p: `public/é${i}.txt`, h: 'a'.repeat(64), s: i, m: 420 })) });
    const bytes = Buffer.concat([Buffer.from(big), Buffer.from('TARBYTES')]);
    const lines = [];
    const raw = [];
    for (let i = 0; i < bytes.length; i += 7777) {
      const out = d.push(bytes.subarray(i, i + 7777));
      lines.push(...out.lines);
      if (out.raw.length) raw.push(out.raw);
    }
    expect(lines).toHaveLength(1);
    expect((lines[0].message as { files: unknown[] }).files).toHaveLength(3000);
    expect(Buffer.concat(raw).toString()).toBe('TARBYTES');
  });
});
