// Which keep-alive connections of a service's HTTP server have been idle for a while: what a draining worker
// may close. Bundled into the preload, so it imports nothing but Node's own types.
//
// Why not `server.closeIdleConnections()` (which `http.Server.close()` also calls, Node ≥ 19): it closes a
// connection the moment it has no request, and Caddy may be writing a request on it at that very moment.
// The service then resets a connection with an unread request; Caddy 2.6.2 resends a GET but answers a POST
// 502. Measured with pm2 cluster reloads through Caddy 2.6.2 under POST load: 15 of ~15,900 answered 502 in
// 30 reloads (2 in 15 reloads at ~80 POSTs/s) when the drain closed every idle connection at once, 0 of
// ~16,300 in 30 reloads with this code (test/e2e/drain-keepalive.test.ts). Caddy takes its most recently used idle connection first, so one idle
// that long is rarely the next it sends on; and it closes idle ones itself after 2 s (UPSTREAM_KEEPALIVE).
import type { IncomingMessage, ServerResponse } from 'http';
import type { Socket } from 'net';

/** How long a connection must have been idle before a draining worker closes it. @default 250 */
export const IDLE_CLOSE_MS = 250;

interface Use {
  /** Requests on this connection whose response has not closed yet. */
  busy: number;
  /** When the last response on it closed. */
  idleSince: number;
  /** socket.bytesRead then: more since means a request (or an upgrade) has started to arrive. */
  bytesRead: number;
}

/** The connections one HTTP server has answered requests on. */
export class IdleConnections {
  private readonly uses = new Map<Socket, Use>();

  /** Called for every request: the connection is busy until its response closes. */
  track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    let use = this.uses.get(socket);
    if (!use) {
      use = { busy: 0, idleSince: 0, bytesRead: 0 };
      this.uses.set(socket, use);
      socket.once('close', () => this.uses.delete(socket));
    }
    const u = use;
    u.busy++;
    res.once('close', () => {
      u.busy--;
      u.idleSince = Date.now();
      u.bytesRead = socket.bytesRead;
    });
  }

  /**
   * Destroy the connections idle for at least `minIdleMs` with nothing read since. A connection that never
   * carried a request here (just opened, or upgraded to a WebSocket before one) is never touched: its
   * client closes it, or the drain's deadline ends it. Returns how many were closed.
   */
  closeIdle(now: number, minIdleMs: number): number {
    let closed = 0;
    for (const [socket, use] of this.uses) {
      if (use.busy > 0 || now - use.idleSince < minIdleMs || socket.bytesRead !== use.bytesRead) continue;
      socket.destroy();
      closed++;
    }
    return closed;
  }
}
