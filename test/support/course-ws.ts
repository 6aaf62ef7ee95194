/**
 * A WebSocket client that stays connected to a course service through Caddy: when the connection is
 * closed it reconnects at once (as a browser app's reconnect loop would) and records each drop and the
 * process that answered each connection (the fixture's service says its pid in its first frame).
 * Node 20 has no WebSocket client built in; the handshake and frames are a few lines (RFC 6455).
 */
import { randomBytes } from 'node:crypto';
import { connect, TLSSocket } from 'node:tls';
import { at } from './course-load';
import type { CourseServer } from './course-server';

export interface WsLog {
  /** One per connection that was upgraded: when, and the pid that said hello. */
  readonly connections: Array<{ at: string; pid: number | null }>;
  /** One per upgraded connection that closed while the watch ran: when and how. */
  readonly drops: string[];
  /** Attempts that did not get a 101 (each one retried after 50 ms). */
  readonly refused: string[];
}

/** Connect to wss://<name>.<domain>/ now and keep reconnecting until stop(). Resolves once the first connection is up. */
export async function watchWebSocket(server: CourseServer, name: string): Promise<{ stop: () => WsLog }> {
  const log: WsLog = { connections: [], drops: [], refused: [] };
  let stopped = false;
  let current: TLSSocket | null = null;
  const host = `${name}.${server.domain}`;
  const open = (): Promise<void> => new Promise((resolve) => {
    const sock = connect({ host: server.address, port: 443, servername: host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    current = sock;
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let entry: { at: string; pid: number | null } | null = null;
    sock.on('secureConnect', () => sock.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = buf.subarray(0, end).toString().split('\r\n')[0];
        if (!/^HTTP\/1\.1 101/.test(status)) return void sock.destroy(new Error(status));
        upgraded = true;
        buf = buf.subarray(end + 4);
        entry = { at: at(), pid: null };
        log.connections.push(entry);
        resolve();
      }
      // The hello: one unmasked text frame under 126 bytes.
      if (entry && entry.pid === null && buf.length >= 2 && buf.length >= 2 + (buf[1] & 0x7f)) {
        entry.pid = (JSON.parse(buf.subarray(2, 2 + (buf[1] & 0x7f)).toString()) as { pid: number }).pid;
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      if (stopped) return resolve();
      if (upgraded) log.drops.push(`[${at()}] connection to pid ${entry?.pid ?? '?'} closed`);
      else log.refused.push(`[${at()}] no upgrade`);
      setTimeout(() => void open().then(() => {}), upgraded ? 0 : 50);
      resolve();
    });
  });
  await open();
  if (log.connections.length === 0) throw new Error(`no WebSocket to ${host}: ${log.refused.join('; ')}`);
  return {
    stop() {
      stopped = true;
      current?.destroy();
      return log;
    },
  };
}
