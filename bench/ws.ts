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

/** Open a WebSocket to https://<host>/ through the stand-in's Caddy; count server messages. */
export function openWs(address: string, host: string, ca: Buffer | string): Promise<WsWatch> {
  return new Promise((resolve, reject) => {
    const sock: TLSSocket = connect({ host: address, port: 443, servername: host, ca, ALPNProtocols: ['http/1.1'] });
    let received = 0;
    let closed: string | null = null;
    let upgraded = false;
    let buf = Buffer.alloc(0);
    const key = randomBytes(16).toString('base64');
    sock.on('secureConnect', () => {
      sock.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        if (!/^HTTP\/1\.1 101/.test(head)) return reject(new Error(`no upgrade: ${head.split('\r\n')[0]}`));
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve({ received: () => received, closed: () => closed, close: () => sock.destroy() });
      }
      // Unmasked server frames with short payloads: count text frames; a close frame (0x8) ends it.
      while (buf.length >= 2) {
        const op = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        if (op === 0x1) received++;
        if (op === 0x8) closed = closed ?? 'close frame from the server';
        buf = buf.subarray(off + len);
      }
    });
    sock.on('close', () => {
      closed = closed ?? 'connection closed';
      if (!upgraded) reject(new Error('closed before the upgrade'));
    });
    sock.on('error', (e) => {
      closed = closed ?? `error: ${e.message}`;
      if (!upgraded) reject(e);
    });
  });
}
