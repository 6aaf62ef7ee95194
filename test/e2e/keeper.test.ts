/**
 * The kept connection (lib/ssh/keeper) against a real OpenSSH server: a private sshd on 127.0.0.1
 * (test/support/private-sshd.ts), not the shared stand-in, so this file needs no e2e lock. sshd's own
 * log counts the logins: a command served by the keeper opens no new connection.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { withServer } from '../../lib/cli/connect';
import { AGENT_MISSING_CODE, AGENT_MISSING_LINE } from '../../lib/remote/agent-launch';
import { RemoteAbortError, RemoteTimeoutError, openSsh, type SshSession } from '../../lib/ssh';
import { keeperFor, leaveKeeper, stopKeepers, tryKeeper, type KeepableTarget } from '../../lib/ssh/keeper/keep';
import { privateSshdUnavailable, startPrivateSshd, type PrivateSshd } from '../support/private-sshd';

const why = privateSshdUnavailable();
const describeSshd = why ? describe.skip : describe;
if (why) console.warn(`test/e2e/keeper.test.ts skipped: ${why}`);

/** A stand-in for the agent: says its pid, reads its command (as a standby: from the first line) and header, answers. */
const FAKE_AGENT = `
const standby = process.argv[2] === '--standby';
process.stdout.write(JSON.stringify({ type: 'agent', pid: process.pid }) + '\\n');
let buf = '';
const lines = [];
const answer = () => {
  const need = standby ? 2 : 1;
  if (lines.length < need) return;
  const command = standby ? JSON.parse(lines[0]).command : process.argv[2];
  process.stderr.write('a tool said something\\n');
  process.stdout.write(JSON.stringify({ type: 'result', ok: true, command, standby, header: JSON.parse(lines[need - 1]), agent: __filename }) + '\\n');
  process.exit(0);
};
process.stdin.on('data', (d) => {
  buf += d;
  for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) lines.push(buf.slice(0, i));
  answer();
});
process.stdin.on('end', () => process.exit(standby && lines.length === 0 ? 0 : 3));
`;

let sshd: PrivateSshd;
let env: NodeJS.ProcessEnv;
let target: KeepableTarget;
const agentV1 = () => join(sshd.dir, 'bin', 'v1', 'agent.js');
const agentV2 = () => join(sshd.dir, 'bin', 'v2', 'agent.js');
const files = () => keeperFor(target, env)!;
const keeperLog = () => (existsSync(files().log) ? readFileSync(files().log, 'utf8') : '');
/** The pid in the keeper's info file; undefined while there is none (or it is being written). */
const infoPid = (): number | undefined => {
  try {
    return (JSON.parse(readFileSync(files().info, 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
};
const keeperPid = (): number => infoPid()!;
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Poll `check` every 50 ms until it holds, for at most `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${check.toString()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * sshd logs each login a moment after it happens: one more login of our own, then waiting for it,
 * makes the count exact. `extra` logins happened since `before`.
 */
async function expectLoginsSince(before: number, extra: number): Promise<void> {
  await (await openSsh(target)).close();
  await until(() => sshd.logins() >= before + extra + 1);
  expect(sshd.logins()).toBe(before + extra + 1);
}

/** Leave a keeper behind as the CLI does, and wait until it answers; its session. */
async function keeper(idleMs = 60_000, agentPath?: string): Promise<SshSession> {
  leaveKeeper(target, files(), idleMs, agentPath);
  let s: SshSession | undefined;
  await until(async () => !!(s = await tryKeeper(files(), 'the test sshd'))).catch((e: Error) => {
    throw new Error(`${e.message}\nkeeper log:\n${keeperLog()}\nfiles: ${readdirSync(files().dir).join(' ')}`);
  });
  await until(() => infoPid() !== undefined); // written once it listens: a moment after it can answer
  return s!;
}

/** Stop the test's keeper (if any) and wait for it to be gone. */
async function noKeeper(): Promise<void> {
  const pid = infoPid();
  await stopKeepers('127.0.0.1', sshd.port, env);
  if (pid) await until(() => !alive(pid));
}

describeSshd('the kept SSH connection', () => {
  beforeAll(async () => {
    sshd = await startPrivateSshd();
    const home = join(sshd.dir, 'home');
    env = { PORTSIDE_HOME: home, PORTSIDE_SSH_PERSIST: '1m' };
    target = {
      host: '127.0.0.1', port: sshd.port, user: 'root', label: 'the test sshd',
      privateKey: readFileSync(sshd.keyPath), privateKeyPath: sshd.keyPath, knownHostsPath: join(home, 'known_hosts'),
    };
    for (const path of [agentV1(), agentV2()]) {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, FAKE_AGENT);
    }
  });
  afterEach(async () => noKeeper());
  afterAll(() => {
    // Whatever a failed test left: the keepers this file started run in its keepers folder.
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readlinkSync(`/proc/${pid}/cwd`).startsWith(files().dir)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // not ours, or gone
      }
    }
    sshd?.stop();
  });

  test('commands through the keeper answer exactly as on a direct connection, and open no new SSH connection', async () => {
    const direct = await openSsh(target);
    const kept = await keeper();
    const logins = sshd.logins();
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    // Each case makes its options twice: a stream is read once.
    const cases: Array<[string[], () => Parameters<SshSession['exec']>[1]]> = [
      [['sh', '-c', 'echo out; echo err >&2; exit 3'], () => ({})],
      [['cat'], () => ({ stdin: 'hello\nworld' })],
      [['wc', '-c'], () => ({ stdin: Readable.from([big.subarray(0, 1e6), big.subarray(1e6)]) })],
      [['sh', '-c', 'kill -TERM $$'], () => ({})],
      [['printf', '%s|', `it's "quoted"`, '$(id)', 'ünïcødé ✓'], () => ({})],
    ];
    try {
      for (const [argv, opts] of cases) {
        const seen: Buffer[] = [];
        const viaKeeper = await kept.exec(argv, { ...opts(), onStdout: (c) => seen.push(c) });
        expect(viaKeeper).toEqual(await direct.exec(argv, opts()));
        expect(Buffer.concat(seen).toString()).toBe(viaKeeper.stdout);
      }
      expect(kept.hostKeyFingerprint).toBe(sshd.hostFingerprint);
      await expectLoginsSince(logins, 0);
    } finally {
      await direct.close();
    }
  });

  test('a timeout or an abort through the keeper rejects as it does directly and the remote command stops', async () => {
    const kept = await keeper();
    // sshd refuses signal requests for root sessions (see ssh.test.ts), so the command stops as any
    // command does once its channel is gone: its next write fails.
    const ticker = ['sh', '-c', 'echo $$; while :; do echo tick; sleep 0.05; done'];
    const stops: Array<[string, (ac: AbortController) => Parameters<SshSession['exec']>[1], new (...a: never[]) => Error]> = [
      ['timeout', () => ({ timeoutMs: 1500 }), RemoteTimeoutError],
      ['abort', (ac) => ({ signal: ac.signal }), RemoteAbortError],
    ];
    for (const [, opts, errorClass] of stops) {
      const ac = new AbortController();
      let out = '';
      const t0 = Date.now();
      const p = kept.exec(ticker, { ...opts(ac), onStdout: (c) => { out += c.toString(); if (out.includes('tick')) ac.abort(); } });
      await expect(p).rejects.toBeInstanceOf(errorClass);
      expect(Date.now() - t0).toBeLessThan(3500);
      const pid = Number(/^(\d+)\n/.exec(out)?.[1]);
      expect(pid).toBeGreaterThan(0);
      await until(() => !alive(pid));
    }
  });

  test('the agent of the keeper\'s version is the standby, started ahead; another version is launched, never served by the old standby', async () => {
    const kept = await keeper(60_000, agentV1());
    await until(() => keeperLog().includes(`standby started for ${agentV1()}`));
    const ask = async (path: string, header: object) => {
      const r = await kept.execAgent!(path, 'status', { stdin: `${JSON.stringify(header)}\n` });
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      return { r, pid: lines[0].pid, result: lines[lines.length - 1] };
    };
    const first = await ask(agentV1(), { n: 1 });
    expect(first.result).toEqual({ type: 'result', ok: true, command: 'status', standby: true, header: { n: 1 }, agent: agentV1() });
    expect(first.r.stderr).toBe('a tool said something\n');
    expect(first.r.code).toBe(0);
    // Once a command is over the keeper starts the next standby for the same version.
    const second = await ask(agentV1(), { n: 2 });
    expect(second.result.standby).toBe(true);
    expect(second.pid).not.toBe(first.pid);
    const other = await ask(agentV2(), { n: 3 });
    expect(other.result).toMatchObject({ standby: false, agent: agentV2(), header: { n: 3 } });
    expect(keeperLog()).toMatch(/status: launched the agent/);
    const missing = await kept.execAgent!(join(sshd.dir, 'bin', 'none', 'agent.js'), 'status', { stdin: '{}\n' });
    expect(missing).toEqual({ stdout: '', stderr: `${AGENT_MISSING_LINE}\n`, code: AGENT_MISSING_CODE });
  });

  test('a standby left unused exits when the keeper goes', async () => {
    await keeper(60_000, agentV1());
    await until(() => keeperLog().includes('standby started'));
    const standbyPid = (): string => {
      try {
        return execFileSync('pgrep', ['-f', '--', `${agentV1()} --standby`], { encoding: 'utf8' }).trim();
      } catch {
        return ''; // pgrep exits 1 when nothing matches
      }
    };
    await until(() => standbyPid() !== '');
    await noKeeper();
    await until(() => standbyPid() === '');
  });

  test('a keeper idle for its limit exits and removes its socket', async () => {
    await keeper(1500);
    const pid = keeperPid();
    await until(() => !alive(pid), 8000);
    expect(existsSync(files().socket)).toBe(false);
    expect(keeperLog()).toMatch(/exiting: idle for 2 s/);
  });

  test('the CLI\'s connection leaves a keeper behind; the next command uses it; its folder and socket are the user\'s only', async () => {
    const ctx = { argv: [], cwd: sshd.dir, env, out: () => undefined, err: () => undefined };
    const values = { host: `127.0.0.1:${sshd.port}`, user: 'root', key: sshd.keyPath };
    const hostname = execFileSync('hostname', { encoding: 'utf8' });
    expect((await withServer(ctx, values, ({ ssh }) => ssh.run(['hostname']))).stdout).toBe(hostname);
    await until(() => infoPid() !== undefined && keeperLog().includes('serving'));
    const logins = sshd.logins();
    expect((await withServer(ctx, values, ({ ssh }) => ssh.run(['hostname']))).stdout).toBe(hostname);
    await expectLoginsSince(logins, 0);
    expect(statSync(files().dir).mode & 0o777).toBe(0o700);
    for (const f of [files().socket, files().info, files().log]) expect(statSync(f).mode & 0o777).toBe(0o600);
    // No key material in the keeper's environment (it reads the key file itself).
    expect(readFileSync(`/proc/${keeperPid()}/environ`, 'utf8')).not.toContain('PRIVATE KEY');
  });

  test('a keeper socket in a folder others can enter is not trusted: the command connects directly', async () => {
    await keeper();
    chmodSync(files().dir, 0o755);
    try {
      expect(await tryKeeper(files(), 'the test sshd')).toBeUndefined();
    } finally {
      chmodSync(files().dir, 0o700);
    }
    expect(await tryKeeper(files(), 'the test sshd')).toBeDefined();
  });

  test('a killed keeper, a hung keeper, or a keeper whose server connection died: the next command connects directly, at once', async () => {
    const ctx = { argv: [], cwd: sshd.dir, env, out: () => undefined, err: () => undefined };
    const values = { host: `127.0.0.1:${sshd.port}`, user: 'root', key: sshd.keyPath };
    const command = () => withServer(ctx, values, ({ ssh }) => ssh.run(['echo', 'served']));
    const breakers: Array<[string, (pid: number) => void]> = [
      ['killed', (pid) => process.kill(pid, 'SIGKILL')],
      ['hung', (pid) => process.kill(pid, 'SIGSTOP')],
      ['its sshd session hung', () => sessionPids().forEach((p) => process.kill(p, 'SIGSTOP'))],
      ['its sshd session killed', () => sessionPids().forEach((p) => process.kill(p, 'SIGKILL'))],
    ];
    for (const [what, breakIt] of breakers) {
      await keeper();
      const pid = keeperPid();
      const stopped = sessionPids();
      breakIt(pid);
      const logins = sshd.logins();
      const t0 = Date.now();
      expect({ what, out: (await command()).stdout }).toEqual({ what, out: 'served\n' });
      expect({ what, ms: Date.now() - t0 < 3000 }).toEqual({ what, ms: true });
      // A keeper that did not answer was stopped (or exited by itself when its connection closed), and
      // the direct connection left a new one behind: two logins, the command's and the new keeper's.
      await until(() => !alive(pid), 5000);
      await until(() => infoPid() !== undefined && infoPid() !== pid && keeperLog().includes('serving'));
      await expectLoginsSince(logins, 2);
      for (const p of stopped) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone with its connection
        }
      }
      await noKeeper();
    }
  });
});

/** The sshd processes serving connections now (children of the listener), for breaking them on purpose. */
function sessionPids(): number[] {
  const out = execFileSync('sh', ['-c', `pgrep -P ${sshd.pid} || true`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map(Number);
}

