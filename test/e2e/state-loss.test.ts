/**
 * Portside's own state survives loss, on the shared local stand-in (real sshd, Caddy, pm2): a deleted
 * or corrupt registry is rebuilt from the server itself and every running service keeps its route;
 * `local up` rebuilds instead of seeding cdk.json's defaults; a site added to the Caddyfile by hand
 * survives the next deploy. The registry and Caddyfile are put back as they were at the end.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CADDYFILE_HISTORY_DIR, PORTSIDE_DIR, REGISTRY_FILE, REGISTRY_HISTORY_DIR, REGISTRY_HISTORY_KEEP } from '../../lib/remote/layout';
import { cli } from '../support/cli';
import { sampleAppSaying } from '../support/sample-app';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { serviceUrl, userHome, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e state-loss tests skipped: ${why}`);

const A = 'sl-a';
const B = 'sl-b';
const HAND_SITE = 'hand-e2e.portside.test';
const HAND_BLOCK = `${HAND_SITE} {\n\trespond "written by hand" 200\n}`;
const work = mkdtempSync(join(tmpdir(), 'portside-state-loss-'));

const appSaying = sampleAppSaying(work);

const deploy = (name: string, text: string) => cli('deploy-service', name, '--dir', appSaying(text), '--target', 'local');

/** GET through Caddy, retried briefly: a reload may still be issuing a new site's certificate. */
async function page(server: LocalServer, url: string): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await viaCaddy(server, url);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describeE2E('state loss on the local server', () => {
  let server: LocalServer;
  let home: string;
  let registryFile: string;
  let caddyfile: string;
  let original: { registry: string; caddyfile: string };
  let ports: Record<string, number>;
  const registry = () => JSON.parse(readFileSync(registryFile, 'utf8'));
  /** Corrupt registries the agent kept aside (beside it, as registry.json.corrupt-<time>), as full paths. */
  const keptAside = () => readdirSync(join(home, PORTSIDE_DIR))
    .filter((n) => n.startsWith(`${basename(REGISTRY_FILE)}.corrupt-`)).map((n) => join(home, PORTSIDE_DIR, n));

  /** Both test services answer through Caddy with their own text, on the ports they had. */
  async function bothAnswer(aText: string, bText: string): Promise<void> {
    expect(await page(server, serviceUrl(server, A))).toMatchObject({ status: 200, body: expect.stringContaining(aText) });
    expect(await page(server, serviceUrl(server, B))).toMatchObject({ status: 200, body: expect.stringContaining(bText) });
    expect(registry().services).toMatchObject(ports);
  }

  beforeAll(async () => {
    server = await ensureLocalServer();
    home = userHome(server);
    registryFile = join(home, REGISTRY_FILE);
    original = { registry: readFileSync(registryFile, 'utf8'), caddyfile: '' };
    caddyfile = JSON.parse(original.registry).paths.caddyfile;
    original.caddyfile = readFileSync(caddyfile, 'utf8');
    for (const name of [A, B]) await cli('remove-service', name, '--purge', '--target', 'local');
    for (const name of [A, B]) {
      const r = await deploy(name, `${name} one`);
      expect(r.err).not.toMatch(/portside deploy-service:/);
    }
    ports = { [A]: registry().services[A], [B]: registry().services[B] };
  }, 180_000);

  afterAll(async () => {
    try {
      for (const name of [A, B]) await cli('remove-service', name, '--purge', '--target', 'local');
    } finally {
      // Put the registry and Caddyfile back byte for byte (and Caddy on the original config).
      const now = { registry: readFileSync(registryFile, 'utf8'), caddyfile: readFileSync(caddyfile, 'utf8') };
      if (now.registry !== original.registry || now.caddyfile !== original.caddyfile) {
        const { uid, gid } = statSync(join(home, PORTSIDE_DIR));
        writeFileSync(registryFile, original.registry, { mode: 0o600 });
        chownSync(registryFile, uid, gid);
        writeFileSync(caddyfile, original.caddyfile);
        execFileSync('ip', ['netns', 'exec', 'portside', 'caddy', 'reload', '--adapter', 'caddyfile', '--config', caddyfile], { stdio: 'ignore' });
      }
      for (const f of keptAside()) rmSync(f);
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);

  test('with registry.json deleted, services lists every running service and a deploy keeps their routes', async () => {
    rmSync(registryFile);
    const list = await cli('services', '--json', '--target', 'local');
    expect(list.code).toBe(0);
    expect(list.err).toMatch(/the registry \(~\/\.portside\/registry\.json\) was missing: rebuilt from the saved version ~\/\.portside\/registry\.history\/\S+/);
    const rows = JSON.parse(list.out) as Array<{ name: string; port: number; status: string }>;
    expect(rows).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: A, port: ports[A], status: 'online' }),
      expect.objectContaining({ name: B, port: ports[B], status: 'online' }),
    ]));

    rmSync(registryFile);
    const r = await deploy(A, 'A after the loss');
    expect(r).toExitWith(0);
    expect(r.err + r.out).toMatch(/was missing: rebuilt from/);
    await bothAnswer('A after the loss', `${B} one`);
    expect(statSync(registryFile).mode & 0o777).toBe(0o600);
  }, 90_000);

  test('a corrupt registry is kept aside and rebuilt; every running service keeps its route', async () => {
    writeFileSync(registryFile, '{ "version": 1, "services": {');
    const r = await deploy(B, 'B after corruption');
    expect(r).toExitWith(0);
    expect(r.err + r.out).toMatch(/was corrupt \(not valid JSON.*kept as ~\/\.portside\/registry\.json\.corrupt-\S+\): rebuilt from/);
    const aside = keptAside();
    expect(aside).toHaveLength(1);
    expect(readFileSync(aside[0], 'utf8')).toBe('{ "version": 1, "services": {');
    await bothAnswer('A after the loss', 'B after corruption');
  }, 90_000);

  test('local up after a lost registry rebuilds it from the server, not from cdk.json, and the next deploy keeps every route', async () => {
    rmSync(registryFile);
    const up = await cli('local', 'up');
    expect(up.code).toBe(0);
    expect(up.err).toMatch(/is missing on a server with state: rebuilding it from the server, not from cdk\.json/);
    expect(registry().services).toMatchObject(ports);
    const r = await deploy(A, 'A after local up');
    expect(r).toExitWith(0);
    await bothAnswer('A after local up', 'B after corruption');
  }, 180_000);

  test('a site added to the Caddyfile by hand survives the next deploy, said so; deleting it by hand drops it', async () => {
    writeFileSync(caddyfile, `${readFileSync(caddyfile, 'utf8')}\n${HAND_BLOCK}\n`);
    const r = await deploy(B, 'B with a hand-written neighbour');
    expect(r).toExitWith(0);
    expect(r.err + r.out).toContain(`kept "${HAND_SITE}" verbatim: it is in the Caddyfile but Portside did not write it`);
    expect(readFileSync(caddyfile, 'utf8')).toContain(HAND_BLOCK);
    expect(registry().extra).toBe(HAND_BLOCK);
    expect(await page(server, `https://${HAND_SITE}/`)).toMatchObject({ status: 200, body: 'written by hand' });
    await bothAnswer('A after local up', 'B with a hand-written neighbour');

    writeFileSync(caddyfile, readFileSync(caddyfile, 'utf8').replace(HAND_BLOCK, ''));
    const again = await deploy(B, 'B alone again');
    expect(again.code).toBe(0);
    expect(again.err + again.out).toContain(`"${HAND_SITE}" was deleted from the Caddyfile by hand: no longer kept`);
    expect(registry().extra).toBeUndefined();
    expect(readFileSync(caddyfile, 'utf8')).not.toContain(HAND_SITE);
  }, 120_000);

  test(`every registry write is kept (the last ${REGISTRY_HISTORY_KEEP}, mode 0600, the newest is the registry) and replaced Caddyfiles are backed up`, () => {
    const dir = join(home, REGISTRY_HISTORY_DIR);
    const saved = readdirSync(dir).sort();
    expect(saved.length).toBeGreaterThan(1);
    expect(saved.length).toBeLessThanOrEqual(REGISTRY_HISTORY_KEEP);
    for (const f of saved) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, saved[saved.length - 1]), 'utf8')).toBe(readFileSync(registryFile, 'utf8'));
    const backups = readdirSync(join(home, CADDYFILE_HISTORY_DIR));
    expect(backups.length).toBeGreaterThan(0);
    expect(backups.some((f) => readFileSync(join(home, CADDYFILE_HISTORY_DIR, f), 'utf8').includes(HAND_BLOCK))).toBe(true);
  });
});
