/**
 * What a WebSocket open through Caddy sees while `portside adopt` and `portside adopt --undo` run on the
 * course server (lib/targets/course: its own namespaces, no e2e lock): a client connected to simon
 * that reconnects at once whenever it is closed, as a browser app would. The fixture's service says
 * its pid in the first frame, so each connection names the process it reached.
 */
import { courseServer, CourseServer, courseServerUnavailable, newHome, portside, useCourseServer } from '../support/course-server';
import { timedPortside } from '../support/course-load';
import { watchWebSocket, WsLog } from '../support/course-ws';
import { pm2List } from '../support/adopt-load';

const why = courseServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e adopt-websocket tests skipped: ${why}`);

jest.setTimeout(300_000);

let home: string;
let server: CourseServer;
const connection = () => ['--host', server.address, '--key', server.keyPath];
const pm2Pid = (name: string): number => pm2List().find((p) => p.name === name)?.pid ?? -1;

/** Run the CLI with a WebSocket to simon open throughout (and 1.5 s after, for a late close). */
async function withWebSocket(...args: string[]): Promise<{ code: number; stderr: string; ws: WsLog }> {
  const watch = await watchWebSocket(server, 'simon');
  const r = await timedPortside(home, null, ...args);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const ws = watch.stop();
  process.stderr.write(`[${args.join(' ')}] WebSocket: ${ws.drops.length} drop(s) ${JSON.stringify(ws.drops)}, connections ${JSON.stringify(ws.connections)}, refused ${ws.refused.length}\n${r.stderr}\n`);
  return { ...r, ws };
}

useCourseServer();

describeE2E('a WebSocket through Caddy during adopt and undo on a course server', () => {
  beforeAll(async () => {
    home = newHome();
    server = await courseServer('course', home);
  });

  test('the plan says a WebSocket is closed twice (at each of the two Caddy reloads) and where it reconnects', async () => {
    const r = await portside(home, 'adopt', '--dry-run', ...connection());
    expect(r).toExitWith(0);
    expect(r.stdout).toMatch(/WebSocket open through Caddy \(to any site\) is closed twice/);
  });

  test('adopt: the WebSocket is closed twice and reconnects each time: fork process, then its stand-in, then the cluster worker', async () => {
    const fork = pm2Pid('simon');
    const r = await withWebSocket('adopt', ...connection());
    expect(r).toExitWith(0);
    expect(r.ws.drops).toHaveLength(2);
    const [first, standIn, last] = r.ws.connections.map((c) => c.pid);
    expect(r.ws.connections).toHaveLength(3);
    expect(first).toBe(fork);
    expect(standIn).not.toBe(fork);
    expect(last).toBe(pm2Pid('simon'));
    expect([fork, last]).not.toContain(standIn);
  });

  test('undo: closed twice as well, and it ends on the restored fork process', async () => {
    const r = await withWebSocket('adopt', '--undo', ...connection());
    expect(r).toExitWith(0);
    expect(r.ws.drops).toHaveLength(2);
    expect(r.ws.connections).toHaveLength(3);
    expect(r.ws.connections[2].pid).toBe(pm2Pid('simon'));
  });
});
