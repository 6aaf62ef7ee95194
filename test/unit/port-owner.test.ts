/**
 * The agent's port-owner lookups, against real processes on this machine (no root needed): who
 * listens on a port, and whether a pid runs under another.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const owner = require(join(__dirname, '..', '..', 'lib', 'agent', 'port-owner'));

function listenIn(shell: boolean): Promise<{ child: ChildProcess; port: number; serverPid: number }> {
  const code = "const s = require('http').createServer((q, r) => r.end()).listen(0, '127.0.0.1', () => console.log(s.address().port + ' ' + process.pid))";
  const child = shell ? spawn('sh', ['-c', `node -e "${code}"; true`]) : spawn(process.execPath, ['-e', code]);
  return new Promise((resolve) => child.stdout!.once('data', (d) => {
    const [port, pid] = String(d).trim().split(' ').map(Number);
    resolve({ child, port, serverPid: pid });
  }));
}

describe('port owner', () => {
  const children: ChildProcess[] = [];
  const servers: number[] = [];
  afterAll(() => {
    // The shell's node is its grandchild: end it by pid, and let go of the pipes.
    for (const pid of servers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    children.forEach((c) => {
      c.kill('SIGKILL');
      c.stdout?.destroy();
    });
  });

  test('names the process listening on a port', async () => {
    const { child, port, serverPid } = await listenIn(false);
    children.push(child);
    servers.push(serverPid);
    expect(owner.listenerPids(port)).toEqual({ listening: true, pids: [serverPid] });
    expect(owner.describeHolders(port)).toMatch(new RegExp(`^pid ${serverPid} \\(.*node -e`));
    expect(await owner.portInUse(port)).toBe(true);
  });

  test('a process started under a shell counts as under that shell; an unrelated one does not', async () => {
    const { child, serverPid } = await listenIn(true);
    children.push(child);
    servers.push(serverPid);
    expect(owner.isSameOrDescendant(serverPid, child.pid)).toBe(true);
    expect(owner.isSameOrDescendant(serverPid, serverPid)).toBe(true);
    expect(owner.isSameOrDescendant(process.pid, child.pid)).toBe(false);
  });

  test('a free port is free', async () => {
    const { child, port } = await listenIn(false);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(owner.listenerPids(port)).toEqual({ listening: false, pids: [] });
    expect(await owner.portInUse(port)).toBe(false);
  });
});
