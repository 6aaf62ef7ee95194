/**
 * The agent's health question (lib/agent/procs.ts askHealth) leaves no connection behind: a probe under the
 * preload closes an idle keep-alive connection only after IDLE_CLOSE_MS, so one left open delayed the end of
 * every probe, and with it every deploy's verify step, by ~0.25 s.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { askHealth } from '../../lib/agent/procs';

let home: string;
const savedHome = process.env.HOME;
// askHealth reads (or makes) the health token under the home folder: a throwaway one here.
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'ask-health-'));
  process.env.HOME = home;
});
afterAll(() => {
  process.env.HOME = savedHome;
  rmSync(home, { recursive: true, force: true });
});

test('asks on a connection of its own and closes it with the answer (no idle keep-alive connection stays open)', async () => {
  const seen: { connection?: string; socket?: Socket } = {};
  const server = http.createServer((req, res) => {
    seen.connection = req.headers.connection;
    seen.socket = req.socket;
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const answer = await askHealth((server.address() as AddressInfo).port, '/api/health', 2000);
    expect(answer.status).toBe(200);
    expect(seen.connection).toBe('close');
    // Kept alive, the server would hold it for its keepAliveTimeout (5 s): bounded well below that.
    const closed = seen.socket!.destroyed ? Promise.resolve() : once(seen.socket!, 'close');
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise((r) => (timer = setTimeout(r, 2000, 'still open')));
    await expect(Promise.race([closed.then(() => 'closed'), bound]).finally(() => clearTimeout(timer))).resolves.toBe('closed');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
