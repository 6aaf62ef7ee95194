/**
 * The wire between the CLI and its keeper (a Unix socket): frames of one type byte, a 4-byte length
 * and the payload, so stdout, stderr and the exit share one stream without any escaping. Pure.
 */

/** CLI → keeper. */
export const TO_KEEPER = {
  /** `{}`: check the connection (a round trip to the server); answered by READY or FAILED. */
  hello: 'h',
  /** `{ argv }`: run a command on a new channel. */
  exec: 'x',
  /** `{ agentPath, command }`: run the agent (the standby when one waits for this path). */
  agent: 'a',
  stdin: 'i',
  stdinEnd: 'I',
  /** Stop the remote command (SIGHUP, channel closed), as an aborted or timed-out exec does. */
  hangUp: 'k',
  /** Exit now (portside local down). */
  quit: 'q',
} as const;

/** keeper → CLI. */
export const FROM_KEEPER = {
  /** `{ fingerprint }`: the connection answered. */
  ready: 'r',
  stdout: 'o',
  stderr: 'e',
  /** `{ code, signal? }`: the remote command exited; the last frame of an exec. */
  exit: 'X',
  /** `{ message }`: the exec failed (no channel, connection gone); the last frame. */
  failed: 'F',
} as const;

export interface Frame {
  readonly type: string;
  readonly payload: Buffer;
}

const HEADER = 5;

/** One frame's bytes; `payload` a Buffer, or an object sent as JSON. */
export function encodeFrame(type: string, payload: Buffer | object = Buffer.alloc(0)): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
  const head = Buffer.alloc(HEADER);
  head.write(type, 0, 1, 'latin1');
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames, however it is chunked. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= HEADER) {
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < HEADER + length) break;
      frames.push({ type: this.pending.toString('latin1', 0, 1), payload: this.pending.subarray(HEADER, HEADER + length) });
      this.pending = this.pending.subarray(HEADER + length);
    }
    return frames;
  }
}

/** A frame's JSON payload. */
export function frameJson<T>(frame: Frame): T {
  return JSON.parse(frame.payload.toString('utf8')) as T;
}
