/**
 * What a draining worker may close (lib/agent/idle-connections.ts): only a keep-alive connection that has
 * been idle for the given time with nothing read since. Real HTTP server and real sockets on loopback; time
 * is passed in, so no test waits for it.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { IdleConnections } from '../../lib/agent/idle-connections';

const REQUEST = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi';

interface Rig { server: Server; idle: IdleConnections; serverSocket: Promise<Socket>; client: Socket; hold: (hold: boolean) => void }

/** A server tracking its connections as the preload does; one client connection to it. */
async function rig(): Promise<Rig> {
  const idle = new IdleConnections();
  let holding = false;
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    idle.track(req, res);
    req.resume();
    req.on('end', () => (holding ? held.push(res) : res.end('ok')));
  });
  const serverSocket = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  return { server, idle, serverSocket, client, hold: (h) => { holding = h; if (!h) held.splice(0).forEach((r) => r.end('ok')); } };
}

/** Send one request and wait for its whole answer. */
async function exchange(client: Socket): Promise<void> {
  const answered = new Promise((resolve) => client.once('data', resolve));
  client.write(REQUEST);
  await answered;
}

/** Wait (bounded) until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('IdleConnections', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig();
  });
  afterEach(async () => {
    r.client.destroy();
    r.hold(false);
    await new Promise((resolve) => r.server.close(resolve));
  });

  test('closes a connection only once it has been idle for the given time', async () => {
    await exchange(r.client);
    const closed = new Promise((resolve) => r.client.once('close', resolve));
    // 'close' on the response runs just after the answer is written: wait for it, then ask.
    await until(() => r.idle.closeIdle(Date.now(), 10_000) === 0 && r.idle.closeIdle(Date.now() + 10_000, 10_000) === 1);
    await closed;
  });

  test('never closes a connection whose request is still being answered', async () => {
    r.hold(true);
    r.client.write(REQUEST);
    const socket = await r.serverSocket;
    await until(() => socket.bytesRead === Buffer.byteLength(REQUEST));
    expect(r.idle.closeIdle(Date.now() + 60_000, 250)).toBe(0);
    expect(r.client.destroyed).toBe(false);
  });

  test('never closes an idle connection on which the next request has started to arrive', async () => {
    await exchange(r.client);
    const socket = await r.serverSocket;
    const before = socket.bytesRead;
    r.client.write('POST / HTTP/1.1\r\nHost: x\r\n');
    await until(() => socket.bytesRead > before);
    expect(r.idle.closeIdle(Date.now() + 60_000, 250)).toBe(0);
    expect(r.client.destroyed).toBe(false);
  });

  test('never touches a connection that has carried no request (its client or the drain deadline ends it)', async () => {
    await r.serverSocket;
    expect(r.idle.closeIdle(Date.now() + 60_000, 0)).toBe(0);
  });
});
