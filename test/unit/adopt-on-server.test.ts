/**
 * The pieces of the adopt run on the server (lib/adopt/on-server) that decide what happens when its
 * CLI goes: when the CLI counts as gone, which earlier run's log the next run prints, the one command
 * primitive on the server, and the environment undo gives a process back. Real streams and processes.
 */
import { PassThrough } from 'node:stream';
import { ClientWatch, goneReason } from '../../lib/adopt/on-server/client-watch';
import { LocalCommands } from '../../lib/adopt/on-server/local-commands';
import { CLIENT_SILENT_MS } from '../../lib/adopt/on-server/messages';
import { unseenEnding } from '../../lib/adopt/on-server/run-log';
import { caddyReason } from '../../lib/adopt/server-ops';
import { studentEnv } from '../../lib/adopt/undo';
import { RemoteCommandError, RemoteTimeoutError } from '../../lib/ssh/errors';

const line = (o: object) => `${JSON.stringify(o)}\n`;

describe('goneReason: when the adopt run counts its CLI as gone', () => {
  test('there while it was heard within CLIENT_SILENT_MS', () => {
    expect(goneReason(null, 1000, 1000 + CLIENT_SILENT_MS)).toBeNull();
  });
  test('gone after CLIENT_SILENT_MS of silence (a connection that hangs), saying how long', () => {
    expect(goneReason(null, 1000, 1001 + CLIENT_SILENT_MS)).toBe(`no word from the CLI for ${((CLIENT_SILENT_MS + 1) / 1000).toFixed(1)} s (the connection hangs)`);
  });
  test('gone at once when its stdin ended, whatever the time', () => {
    expect(goneReason('the CLI is gone', 1000, 1000)).toBe('the CLI is gone');
  });
});

describe('ClientWatch over a real stream', () => {
  test('next() gives the header and the plan, skipping beats; gone() stays null while lines come', async () => {
    const stdin = new PassThrough();
    const watch = new ClientWatch(stdin, 500);
    stdin.write(line({ type: 'adopt', who: 'me' }) + line({ type: 'beat' }));
    expect(await watch.next()).toEqual({ type: 'adopt', who: 'me' });
    // A line split across chunks still arrives whole.
    stdin.write('{"type":"be');
    stdin.write('at"}\n{"type":"abort"}\n');
    expect(await watch.next()).toEqual({ type: 'abort' });
    expect(watch.gone()).toBeNull();
  });

  test('gone, and next() null, once stdin ends (the CLI killed, the connection closed)', async () => {
    const stdin = new PassThrough();
    const watch = new ClientWatch(stdin);
    stdin.end();
    expect(await watch.next()).toBeNull();
    expect(watch.gone()).toMatch(/^the CLI is gone \(its connection closed/);
  });

  test('gone after the silence limit with stdin still open; beats before it keep the CLI there', async () => {
    const stdin = new PassThrough();
    const watch = new ClientWatch(stdin, 300);
    const beats = setInterval(() => stdin.write(line({ type: 'beat' })), 100);
    await new Promise((r) => setTimeout(r, 700));
    expect(watch.gone()).toBeNull();
    clearInterval(beats);
    expect(await watch.next()).toBeNull();
    expect(watch.gone()).toMatch(/^no word from the CLI for 0\.\d s/);
  });
});

describe('unseenEnding: which earlier run the next one prints', () => {
  const started = '2026-11-30T10:00:00.000Z === adopt by me (pid 7)\n2026-11-30T10:00:01.000Z 1/6 recording';
  test('none when its CLI saw the ending', () => {
    expect(unseenEnding(`${started}\n=== ended: done; its CLI saw this ending\n`)).toBeNull();
  });
  test('all its lines when its CLI never saw the ending', () => {
    const text = `${started}\n=== ended: failed: stopped before step 2/6; its CLI never saw this ending (the CLI is gone)\n`;
    expect(unseenEnding(text)).toEqual(text.trim().split('\n'));
  });
  test('all its lines when it has no ending (the run itself was killed)', () => {
    expect(unseenEnding(`${started}\n`)).toEqual(started.split('\n'));
  });
  test('none for an empty log', () => {
    expect(unseenEnding('')).toBeNull();
  });
});

describe('LocalCommands: argv spawned on the server, results as an SSH session gives them', () => {
  const cmd = new LocalCommands();
  test('stdout, stderr and the exit code; stdin fed; argv reaches the program byte for byte (no shell)', async () => {
    const hostile = `a b'"$(touch /tmp/x)\`;\n*`;
    const r = await cmd.exec(['sh', '-c', 'cat; printf "%s" "$1"; echo oops >&2; exit 3', 'sh', hostile], { stdin: 'in|' });
    expect(r).toEqual({ stdout: `in|${hostile}`, stderr: 'oops\n', code: 3 });
  });
  test('run throws RemoteCommandError with the command, code and stderr', async () => {
    const e = await cmd.run(['sh', '-c', 'echo no such thing >&2; exit 2']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteCommandError);
    expect(e).toMatchObject({ code: 2, stderr: 'no such thing\n' });
  });
  test('a process killed by a signal: 128 + its number, and the signal', async () => {
    expect(await cmd.exec(['sh', '-c', 'kill -TERM $$'])).toMatchObject({ code: 143, signal: 'TERM' });
  });
  test('a timeout stops the process and rejects with RemoteTimeoutError', async () => {
    await expect(cmd.exec(['sleep', '5'], { timeoutMs: 100 })).rejects.toBeInstanceOf(RemoteTimeoutError);
  });
});

describe('studentEnv: the environment undo starts a process with again', () => {
  test('the variables of the student\'s `pm2 start` (nvm PATH, NVM_DIR, their own); pm2\'s bookkeeping and its per-app object left out', () => {
    // pm2 jlist's pm2_env.env of a process the course's way started (measured on the course server), plus a variable of the student's.
    const recorded = {
      SHELL: '/bin/bash', PWD: '/home/ubuntu/services/simon', HOME: '/home/ubuntu', NVM_DIR: '/home/ubuntu/.nvm', GREETING: 'hello',
      PATH: '/home/ubuntu/.nvm/versions/node/v20.20.2/bin:/usr/bin:/bin', PM2_USAGE: 'CLI', PM2_INTERACTOR_PROCESSING: 'true', PM2_HOME: '/home/ubuntu/.pm2',
      simon: {}, unique_id: 'ef640e2c-de40-45f7-bcc1-99dada4553a4',
    };
    expect(studentEnv(recorded)).toEqual({
      SHELL: '/bin/bash', PWD: '/home/ubuntu/services/simon', HOME: '/home/ubuntu', NVM_DIR: '/home/ubuntu/.nvm', GREETING: 'hello',
      PATH: '/home/ubuntu/.nvm/versions/node/v20.20.2/bin:/usr/bin:/bin', PM2_HOME: '/home/ubuntu/.pm2',
    });
  });
  test('nothing recorded: nothing', () => {
    expect(studentEnv(undefined)).toEqual({});
  });
});

describe('caddyReason: Caddy\'s own words for a refusal', () => {
  test('its last Error: line, without the prefix', () => {
    const out = '{"level":"info","msg":"using provided configuration"}\nError: adapting config using caddyfile: /h/Caddyfile:51: unrecognized directive: nope\n';
    expect(caddyReason(out)).toBe('adapting config using caddyfile: /h/Caddyfile:51: unrecognized directive: nope');
  });
  test('the last line when there is no Error: line', () => {
    expect(caddyReason('something\nwent wrong\n')).toBe('went wrong');
  });
});
