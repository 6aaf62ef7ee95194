/**
 * How messages travel: one JSON object per line, both ways. The one exception is the upload: after a
 * plan whose `upload` field is true, every following byte from the CLI is tar data. The decoder parses
 * each line as JSON and decides from the parsed `upload` field, so the switch does not depend on where
 * a key sits in the line (it once did: the line had to start with `{"type":"plan"` and end with
 * `"upload":true}`). Pure: bytes in, messages out; no streams, no I/O.
 */

/** A parsed line: a JSON object. Which message it is, the reader decides by `type` (see messages.ts). */
export type WireObject = { readonly [key: string]: unknown };

/** One line, as a message to send. */
export function encodeLine(message: object): string {
  return `${JSON.stringify(message)}\n`;
}

/** A JSON object, or null for anything else (a tool's stray output, a cut line). */
export function parseLine(line: string): WireObject | null {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as WireObject) : null;
  } catch {
    return null;
  }
}

/** Whether a message starts the raw upload: a plan that says so. Read from the parsed fields only. */
export function startsUpload(m: WireObject): boolean {
  return m.type === 'plan' && m.upload === true;
}

/** A decoded line: a JSON object, or text that is not one (kept so the reader can show it). */
export type DecodedLine = { readonly message: WireObject; readonly text?: undefined } | { readonly message?: undefined; readonly text: string };

/**
 * Splits a byte stream into lines, however the bytes are chunked (a line may arrive in pieces, a
 * multi-byte character may be cut between chunks: lines are split as bytes and decoded whole). Once a
 * line's message satisfies `startsRaw`, the decoder stops reading lines: the bytes after that line's
 * newline, and every later chunk, are raw data.
 */
export class LineDecoder {
  /** The bytes of an unfinished line, as they came: joined once its newline arrives (a 1 MB plan in 32 kB chunks was copied and searched again at every chunk). */
  private pending: Buffer[] = [];
  private rawMode = false;

  /** @param startsRaw whether a message switches the stream to raw bytes. @default - never */
  constructor(private readonly startsRaw: (m: WireObject) => boolean = () => false) {}

  /** True once a message switched to raw data. */
  get raw(): boolean {
    return this.rawMode;
  }

  /** Feed a chunk: the whole lines it completes, and the raw bytes it holds after the switch (may be empty). */
  push(chunk: Buffer): { lines: DecodedLine[]; raw: Buffer } {
    if (this.rawMode) return { lines: [], raw: chunk };
    const lines: DecodedLine[] = [];
    let start = 0;
    let i: number;
    // Only the new chunk is searched: the pending bytes hold no newline.
    while (!this.rawMode && (i = chunk.indexOf(10, start)) >= 0) {
      lines.push(this.decode(this.take(chunk.subarray(start, i))));
      start = i + 1;
    }
    const rest = chunk.subarray(start);
    if (this.rawMode) return { lines, raw: rest };
    if (rest.length) this.pending.push(rest);
    return { lines, raw: Buffer.alloc(0) };
  }

  /** What is left when the stream ends: an unterminated last line. */
  end(): DecodedLine[] {
    const bytes = this.take(Buffer.alloc(0));
    if (this.rawMode || !bytes.length) return [];
    return [this.decode(bytes, false)];
  }

  /** The pending bytes and `last`, as one line's bytes; nothing is pending after. */
  private take(last: Buffer): Buffer {
    if (!this.pending.length) return last;
    const whole = Buffer.concat([...this.pending, last]);
    this.pending = [];
    return whole;
  }

  /** One line's bytes (decoded whole: a multi-byte character may have been cut between chunks) as a message or text. */
  private decode(bytes: Buffer, mayStartRaw = true): DecodedLine {
    const text = bytes.toString('utf8');
    const message = parseLine(text);
    if (mayStartRaw && message && this.startsRaw(message)) this.rawMode = true;
    return message ? { message } : { text };
  }
}
