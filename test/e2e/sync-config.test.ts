/**
 * sync-config against the shared local stand-in: a declared.json beside the live Caddyfile (what
 * cfn-hup writes on EC2 after a later `cdk deploy`) is adopted as one route change, an unchanged one
 * changes nothing, and a colliding one is refused with the registry and Caddyfile byte-for-byte as
 * they were. The suite leaves the server as it found it.
 */
import { chownSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseRegistry, Registry, renderRegistry } from '../../lib/registry';
import { suggestFree } from '../../lib/ports';
import { DECLARED_FILE } from '../../lib/remote/layout';
import { cli } from '../support/cli';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { serviceUrl, snapshot, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e sync-config tests skipped: ${why}`);

const NAME = 'sync-extra';
const sync = (...args: string[]) => cli('sync-config', ...args, '--target', 'local');

describeE2E('sync-config against the local server', () => {
  let server: LocalServer;
  let declaredPath: string;
  let port: number;

  const live = (): Registry => parseRegistry(snapshot(server).registry);
  /** Write declared.json as the bootstrap does (owned by the deploy user, 0644): only the given services. */
  const declare = (services: Record<string, number>) => {
    const reg = live();
    writeFileSync(declaredPath, renderRegistry({ ...reg, services }), { mode: 0o644 });
    const { uid, gid } = statSync(dirname(declaredPath));
    chownSync(declaredPath, uid, gid);
  };
  const files = () => {
    const s = snapshot(server);
    return { registry: s.registry, caddyfile: s.caddyfile };
  };

  beforeAll(async () => {
    server = await ensureLocalServer();
    declaredPath = join(dirname(live().paths.caddyfile), DECLARED_FILE);
    // Leftovers of an earlier run must not decide this one.
    rmSync(declaredPath, { force: true });
    if (live().services[NAME] !== undefined) await cli('remove-service', NAME, '--target', 'local');
    port = suggestFree(live().services, 1, 4700)[0];
  }, 120_000);

  afterAll(async () => {
    if (!server) return;
    rmSync(declaredPath, { force: true });
    if (live().services[NAME] !== undefined) {
      const r = await cli('remove-service', NAME, '--target', 'local');
      expect(r).toExitWith(0);
    }
    expect(live().services[NAME]).toBeUndefined();
    expect(snapshot(server).caddyfile).not.toContain(`${NAME}.${server.domain}`);
  }, 150_000);

  test('with nothing declared it says so and changes nothing', async () => {
    const before = files();
    const r = await sync();
    expect(r).toExitWith(0);
    expect(r.out).toMatch(/^nothing declared on this server yet: run `npx cdk deploy`/);
    expect(files()).toEqual(before);
  }, 150_000);

  test('--dry-run prints the diff and changes nothing', async () => {
    declare({ [NAME]: port });
    const before = files();
    const r = await sync('--dry-run');
    expect(r).toExitWith(0);
    expect(r.err).toContain(`new service ${NAME} on ${port}`);
    expect(r.out).toMatch(/dry run: 1 change would be adopted; nothing was changed/);
    expect(files()).toEqual(before);
  }, 150_000);

  test('adopts a declared service: registry and Caddyfile gain it and Caddy routes it', async () => {
    declare({ [NAME]: port });
    const r = await sync();
    expect(r.err).not.toMatch(/portside sync-config:/);
    expect(r).toExitWith(0);
    expect(r.err).toContain(`new service ${NAME} on ${port}`);
    expect(r.out).toMatch(/adopted the declared configuration \(1 change\); Caddy reloaded gracefully/);
    const after = files();
    expect(parseRegistry(after.registry).services[NAME]).toBe(port);
    expect(after.caddyfile).toContain(`${NAME}.${server.domain}`);
    expect(after.caddyfile).toContain(`reverse_proxy 127.0.0.1:${port}`);
    // Caddy loaded the new site: it has a certificate for the name and proxies to the (idle) port.
    // Before the reload the TLS handshake for this name fails; after it, Caddy answers 502.
    let status: number | string = 'none';
    const deadline = Date.now() + 20_000;
    while (status !== 502 && Date.now() < deadline) {
      status = await viaCaddy(server, serviceUrl(server, NAME)).then((p) => p.status, (e: Error) => e.message);
      if (status !== 502) await new Promise((res) => setTimeout(res, 300));
    }
    expect(status).toBe(502);
  }, 150_000);

  test('run again: already in sync, registry and Caddyfile byte-identical', async () => {
    const before = files();
    const r = await sync();
    expect(r).toExitWith(0);
    expect(r.out).toMatch(/^already in sync/);
    expect(files()).toEqual(before);
  }, 150_000);

  test('a declared port that collides with a deployed service is refused and changes nothing', async () => {
    // A demo service (stable while other suites deploy and remove their own), else any other one.
    const services = Object.entries(live().services).filter(([n]) => n !== NAME);
    const [holder, held] = services.find(([n]) => n === 'simon' || n === 'startup') ?? services[0];
    declare({ [NAME]: port, 'sync-clash': held });
    const before = files();
    const r = await sync();
    expect(r).toExitWith(1);
    expect(r.err).toContain(`declared service "sync-clash" on port ${held}: port ${held} is already assigned to "${holder}"`);
    expect(r.err).toContain('Nothing was changed');
    expect(files()).toEqual(before);
    expect(existsSync(declaredPath)).toBe(true);
  }, 150_000);
});
