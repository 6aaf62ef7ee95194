/**
 * The WebSocket scenario: a small service that pushes a message every 100 ms to each open WebSocket
 * (the `ws` package, as the course uses), and a client that holds one socket open through Caddy while
 * another service is redeployed, then says whether it stayed open and kept receiving.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, TLSSocket } from 'node:tls';

export function writeWsService(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-ws', version: '1.0.0', main: 'index.js', scripts: { start: 'node index.js' }, dependencies: { ws: '^8.18.0' } }, null, 2) + '\n');
  writeFileSync(join(dir, 'index.js'), `const http = require('http');
const { WebSocketServer } = require('ws');
const port = process.argv.length > 2 ? process.argv[2] : 4000;
const server = http.createServer((req, res) => res.end('ws service'));
const wss = new WebSocketServer({ server });
let n = 0;
setInterval(() => { n++; for (const c of wss.clients) c.send(String(n)); }, 100);
server.listen(port);
`);
}

export interface WsWatch {
  /** messages received so far */
  readonly received: () => number;
  readonly closed: () => string | null;
  close(): void;
}

/** What one watch has seen so far; the socket's handlers update it. */
interface WsState {
  received: number;
  closed: string | null;
  upgraded: boolean;
  /** bytes received and not yet read (the rest of the response head, or a partial frame) */
  buf: Buffer;
}

/** Open a WebSocket to https://<host>/ through the stand-in's Caddy; count server messages. */
export function openWs(address: string, host: string, ca: Buffer | string): Promise<WsWatch> {
  return new Promise((resolve, reject) => {
    const sock: TLSSocket = connect({ host: address, port: 443, servername: host, ca, ALPNProtocols: ['http/1.1'] });
    const st: WsState = { received: 0, closed: null, upgraded: false, buf: Buffer.alloc(0) };
    const key = randomBytes(16).toString('base64');
    sock.on('secureConnect', () => {
      sock.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on('data', (d) => {
      st.buf = Buffer.concat([st.buf, d]);
      if (!st.upgraded) {
        const r = responseHead(st.buf);
        if (!r) return;
        if (!/^HTTP\/1\.1 101/.test(r.head)) return reject(new Error(`no upgrade: ${r.head.split('\r\n')[0]}`));
        st.upgraded = true;
        st.buf = r.rest;
        resolve({ received: () => st.received, closed: () => st.closed, close: () => sock.destroy() });
      }
      readFrames(st);
    });
    sock.on('close', () => {
      st.closed = st.closed ?? 'connection closed';
      if (!st.upgraded) reject(new Error('closed before the upgrade'));
    });
    sock.on('error', (e) => {
      st.closed = st.closed ?? `error: ${e.message}`;
      if (!st.upgraded) reject(e);
    });
  });
}

/** The HTTP response head (up to the blank line) and the bytes after it; undefined until it is complete. */
function responseHead(buf: Buffer): { head: string; rest: Buffer } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  return { head: buf.subarray(0, end).toString(), rest: buf.subarray(end + 4) };
}

/** Count each complete text frame in `st.buf`; a close frame (0x8) ends the watch. A partial frame waits. */
function readFrames(st: WsState): void {
  for (let f = nextFrame(st.buf); f; f = nextFrame(st.buf)) {
    if (f.op === 0x1) st.received++;
    if (f.op === 0x8) st.closed = st.closed ?? 'close frame from the server';
    st.buf = f.rest;
  }
}

/** The first frame of unmasked server bytes: its opcode and the bytes after it; undefined if incomplete. */
function nextFrame(buf: Buffer): { op: number; rest: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  const op = buf[0] & 0x0f;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  if (buf.length < off + len) return undefined;
  return { op, rest: buf.subarray(off + len) };
}
