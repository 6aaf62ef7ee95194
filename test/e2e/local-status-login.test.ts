/**
 * `local status` logs in as a deploy would (client key, pinned host key, `true`), so a broken login is
 * reported even while sshd answers. The shared server's authorized_keys is broken for a moment and
 * always put back.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localCommand } from '../../lib/cli/commands/local';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { userHome } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e local status login tests skipped: ${why}`);

async function status(): Promise<{ code: number; json: { state: string; parts: Record<string, { ok: boolean; detail: string }> } }> {
  const out: string[] = [];
  const code = await localCommand.run({ argv: ['status', '--json'], cwd: process.cwd(), env: process.env, out: (l) => out.push(l), err: () => undefined });
  return { code, json: JSON.parse(out.join('\n')) };
}

describeE2E('local status checks that a deploy can log in', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await ensureLocalServer();
  }, 120_000);

  test('healthy: the login part is ok and names the key', async () => {
    const { code, json } = await status();
    expect(code).toBe(0);
    expect(json.parts.login).toEqual({ ok: true, detail: `${server.user}@${server.address}:${server.sshPort} logs in with ${server.keyPath} and runs commands` });
  }, 30_000);

  test('authorized_keys without the client key: not up, and the login part says why while sshd is fine', async () => {
    const file = join(userHome(server), '.ssh', 'authorized_keys');
    const saved = readFileSync(file);
    const mode = statSync(file).mode & 0o777;
    try {
      writeFileSync(file, '# emptied by local-status-login.test.ts\n');
      const { code, json } = await status();
      expect(code).toBe(1);
      expect(json.state).toBe('degraded');
      expect(json.parts.sshd.ok).toBe(true);
      expect(json.parts.login.ok).toBe(false);
      expect(json.parts.login.detail).toMatch(new RegExp(`refused the key ${server.keyPath} .*authorized_keys does not hold ${server.keyPath}\\.pub; run local up to put it back`));
    } finally {
      writeFileSync(file, saved, { mode });
    }
    expect((await status()).code).toBe(0);
  }, 30_000);
});
