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
  private pending: Buffer = Buffer.alloc(0);
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
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const lines: DecodedLine[] = [];
    let i: number;
    while (!this.rawMode && (i = this.pending.indexOf(10)) >= 0) {
      const text = this.pending.subarray(0, i).toString('utf8');
      this.pending = this.pending.subarray(i + 1);
      const message = parseLine(text);
      lines.push(message ? { message } : { text });
      if (message && this.startsRaw(message)) this.rawMode = true;
    }
    if (!this.rawMode) return { lines, raw: Buffer.alloc(0) };
    const raw = this.pending;
    this.pending = Buffer.alloc(0);
    return { lines, raw };
  }

  /** What is left when the stream ends: an unterminated last line. */
  end(): DecodedLine[] {
    const text = this.pending.toString('utf8');
    this.pending = Buffer.alloc(0);
    if (this.rawMode || !text) return [];
    const message = parseLine(text);
    return [message ? { message } : { text }];
  }
}
