/**
 * The local stand-in server, end to end against its real parts (network namespace, OpenSSH, Caddy,
 * pm2, the registry proxy). It is shared with every other e2e suite, so this file never takes it
 * down — except at its very start when PORTSIDE_TEST_DOWN=1 (run this file alone then).
 */
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Client } from 'ssh2';
import { localCommand } from '../../lib/cli/commands/local';
import { HTTP_PORT, HTTPS_PORT, REGISTRY_FILE, SERVICES_DIR, SSH_PORT } from '../../lib/remote/layout';
import { fingerprintOf } from '../../lib/ssh/fingerprint';
import { LocalServer, localDown, localStatus, localUp, readLocalServer } from '../../lib/targets/local';
import { ensureLocalServer, localServerUnavailable } from '../support/local-server';

const skipReason = localServerUnavailable();
const describeLocal = skipReason ? describe.skip : describe;
if (skipReason) console.warn(`test/e2e/local-target.test.ts skipped: ${skipReason}`);

interface Exec { stdout: string; stderr: string; code: number | null }

/** One command over a fresh ssh2 connection that pins the reported host key. */
function sshExec(server: LocalServer, command: string): Promise<Exec & { hostKeyFingerprint: string }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let seen = '';
    client
      .on('ready', () => {
        client.exec(command, (err, stream) => {
          if (err) return reject(err);
          let stdout = '';
          let stderr = '';
          stream.on('data', (d: Buffer) => (stdout += d));
          stream.stderr.on('data', (d: Buffer) => (stderr += d));
          stream.on('close', (code: number | null) => {
            client.end();
            resolve({ stdout, stderr, code, hostKeyFingerprint: seen });
          });
        });
      })
      .on('error', reject)
      .connect({
        host: server.address, port: server.sshPort, username: server.user,
        privateKey: readFileSync(server.keyPath), readyTimeout: 10_000,
        hostVerifier: (key: Buffer) => {
          seen = fingerprintOf(key);
          return seen === server.hostKeyFingerprint;
        },
      });
  });
}

function get(secure: boolean, server: LocalServer): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const options = {
      host: server.address, port: secure ? HTTPS_PORT : HTTP_PORT, path: '/', headers: { Host: server.domain },
      ...(secure ? { servername: server.domain, ca: readFileSync(server.caCertPath) } : {}),
    };
    const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.on('error', reject).end();
  });
}

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  // The command itself, not main(): this suite should not depend on every other command loading.
  const code = await localCommand.run({ argv, cwd: process.cwd(), env: process.env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describeLocal('portside local (the stand-in server)', () => {
  let server: LocalServer;

  beforeAll(async () => {
    if (process.env.PORTSIDE_TEST_DOWN === '1') {
      await localDown({ log: () => undefined });
      await localDown({ log: () => undefined });
      expect((await localStatus()).up).toBe(false);
      expect(() => readLocalServer()).toThrow('the local server is not up: run `npx portside local up`');
    }
    server = await ensureLocalServer();
  }, 180_000);

  test('a second up is fast, changes nothing and reports the same server', async () => {
    const lines: string[] = [];
    const started = Date.now();
    const again = await localUp({ log: (l) => lines.push(l) });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(again).toEqual(server);
    expect(lines.filter((l) => /^(creating|generated|starting|bootstrapping)/.test(l))).toEqual([]);
    expect(readLocalServer()).toEqual(server);
  });

  test('up --json prints exactly one JSON object with the connection facts on stdout', async () => {
    const { code, out } = await cli('up', '--json');
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    const facts = JSON.parse(out[0]);
    expect(Object.keys(facts).sort()).toEqual(['address', 'caCertPath', 'domain', 'hostKeyFingerprint', 'keyPath', 'sshPort', 'user']);
    expect(facts).toMatchObject({ address: '10.77.0.2', sshPort: SSH_PORT, user: 'portside', domain: 'portside.test' });
    expect(facts.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(readFileSync(facts.caCertPath, 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(statSync(facts.keyPath).mode & 0o777).toBe(0o600);
  });

  test('ssh2 logs in as the deploy user with the key, pins the host key, and finds node, npm and pm2', async () => {
    const r = await sshExec(server, 'whoami && node -v && npm -v && pm2 -v');
    expect(r.hostKeyFingerprint).toBe(server.hostKeyFingerprint);
    expect(r).toExitWith(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('portside');
    expect(lines[1]).toMatch(/^v\d+\./);
    expect(lines[2]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(lines[lines.length - 1]).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('the bootstrap laid out the registry and the services folder in the user\'s home', async () => {
    const r = await sshExec(server, `cat ~/${REGISTRY_FILE} && test -d ~/${SERVICES_DIR} && echo ok`);
    expect(r).toExitWith(0);
    const registry = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1));
    expect(registry).toMatchObject({ version: 1, domain: 'portside.test', routing: 'subdomain', tls: 'internal' });
    expect(r.stdout.trim().endsWith('ok')).toBe(true);
  });

  test('Caddy redirects http to https and serves https://portside.test/ under its own CA', async () => {
    const plain = await get(false, server);
    expect(plain.status).toBe(308);
    expect(plain.location).toBe('https://portside.test/');
    const secure = await get(true, server);
    expect(secure.status).toBe(200);
    expect(secure.body.toLowerCase()).toContain('<html');
  });

  test('the server reaches the npm registry through the proxy, and nothing else', async () => {
    const probe = `require("http").request({host:"10.77.0.1",port:3128,method:"CONNECT",path:"example.com:443"})`
      + `.on("connect",(r)=>{console.log(r.statusCode);process.exit(0)}).on("error",(e)=>console.log(e.message)).end()`;
    const r = await sshExec(server, `npm view is-number version && node -e '${probe}' && ip route`);
    expect(r).toExitWith(0);
    const [version, refused, ...routes] = r.stdout.trim().split('\n');
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(refused).toBe('403');
    expect(routes.join('\n')).not.toMatch(/^default/m);
  }, 30_000);

  test('status --json reports every part healthy, with the same facts', async () => {
    const { code, out } = await cli('status', '--json');
    expect(code).toBe(0);
    const status = JSON.parse(out.join('\n'));
    expect(status).toMatchObject({ state: 'up', ...server });
    for (const part of ['netns', 'sshd', 'caddy', 'proxy']) expect(status.parts[part]).toMatchObject({ ok: true });
  });
});
