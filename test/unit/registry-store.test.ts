/**
 * The registry on disk (lib/agent/registry-store.ts) in a throwaway home: every write keeps its
 * version (the last REGISTRY_HISTORY_KEEP, mode 0600), replaced Caddyfiles are kept, and a missing or corrupt registry is
 * rebuilt from the server's files, the corrupt one kept aside.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCaddyfile } from '../../lib/caddy';
import { createStore } from '../../lib/agent/registry-store';
import { Registry, renderRegistry } from '../../lib/registry';
import {
  CADDYFILE_HISTORY_DIR, currentLink, PORTSIDE_DIR, REGISTRY_FILE, REGISTRY_HISTORY_DIR, REGISTRY_HISTORY_KEEP, RELEASE_MANIFEST,
  releaseDir, RELEASES_SUBDIR,
} from '../../lib/remote/layout';

let home: string;
let store: ReturnType<typeof createStore>;
let notes: string[];
let write: jest.SpyInstance;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'portside-store-'));
  store = createStore(home, { runningCaddy: () => null });
  notes = [];
  // The agent's notes are JSON lines on stdout: collect them instead of printing them.
  write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    const m = JSON.parse(String(chunk));
    if (m.type === 'note') notes.push(m.text);
    return true;
  });
});
afterEach(() => {
  write.mockRestore();
  rmSync(home, { recursive: true, force: true });
});

/** A path of the server map (and what follows it) in the throwaway home. */
const at = (relative: string, ...more: string[]) => join(home, relative, ...more);
const REG: Registry = {
  version: 1, domain: 'portside.test', routing: 'subdomain', tls: 'internal', services: { simon: 3000, 'extra-a': 3001 },
  paths: { www: join(tmpdir(), 'www'), caddyfile: '' },
};

test(`every write keeps its version, 0600, the newest equal to the registry, at most ${REGISTRY_HISTORY_KEEP}`, () => {
  mkdirSync(at(PORTSIDE_DIR), { recursive: true });
  writeFileSync(at(REGISTRY_FILE), 'the seed\n', { mode: 0o644 });
  const writes = REGISTRY_HISTORY_KEEP + 4;
  for (let i = 0; i < writes; i++) store.writeRegistry(`version ${i}\n`);
  const saved = readdirSync(at(REGISTRY_HISTORY_DIR)).sort();
  expect(saved).toHaveLength(REGISTRY_HISTORY_KEEP);
  expect(readFileSync(at(REGISTRY_HISTORY_DIR, saved[saved.length - 1]), 'utf8')).toBe(`version ${writes - 1}\n`);
  expect(readFileSync(at(REGISTRY_FILE), 'utf8')).toBe(`version ${writes - 1}\n`);
  expect(statSync(at(REGISTRY_FILE)).mode & 0o777).toBe(0o600);
  for (const f of saved) expect(statSync(at(REGISTRY_HISTORY_DIR, f)).mode & 0o777).toBe(0o600);
});

test('the first write also keeps the registry it replaces; an unchanged write adds nothing', () => {
  mkdirSync(at(PORTSIDE_DIR), { recursive: true });
  writeFileSync(at(REGISTRY_FILE), 'the seed\n');
  store.writeRegistry('one\n');
  store.writeRegistry('one\n');
  const saved = readdirSync(at(REGISTRY_HISTORY_DIR)).sort();
  expect(saved.map((f) => readFileSync(at(REGISTRY_HISTORY_DIR, f), 'utf8'))).toEqual(['the seed\n', 'one\n']);
});

test(`replaced Caddyfiles are kept, the last ${REGISTRY_HISTORY_KEEP}`, () => {
  const replaced = REGISTRY_HISTORY_KEEP + 2;
  for (let i = 0; i < replaced; i++) store.backupCaddyfile(`caddy ${i}\n`);
  const kept = readdirSync(at(CADDYFILE_HISTORY_DIR)).sort();
  expect(kept).toHaveLength(REGISTRY_HISTORY_KEEP);
  expect(kept.every((f) => f.endsWith('.Caddyfile'))).toBe(true);
  expect(readFileSync(at(CADDYFILE_HISTORY_DIR, kept[kept.length - 1]), 'utf8')).toBe(`caddy ${replaced - 1}\n`);
});

describe('ensureRegistry', () => {
  function serverWith(reg: Registry): Registry {
    const caddyfile = join(home, 'Caddyfile');
    const r = { ...reg, paths: { ...reg.paths, caddyfile } };
    writeFileSync(caddyfile, renderCaddyfile(r));
    for (const [name, port] of Object.entries(r.services)) {
      mkdirSync(at(releaseDir(name, 'r1')), { recursive: true });
      writeFileSync(at(releaseDir(name, 'r1'), RELEASE_MANIFEST), JSON.stringify({ id: 'r1', port }));
      symlinkSync(join(RELEASES_SUBDIR, 'r1'), at(currentLink(name)));
    }
    return r;
  }
  const pm2 = (reg: Registry) => async () => Object.entries(reg.services).map(([name, port]) => ({ name, pm2_env: { status: 'online', env: { PORT: String(port) } } }));

  test('a usable registry is left alone', async () => {
    const r = serverWith(REG);
    store.writeRegistry(renderRegistry(r));
    expect(await store.ensureRegistry({ pm2List: pm2(r) })).toBeNull();
  });

  test('missing, with no saved version: rebuilt from the live Caddyfile, manifests and pm2, and said so', async () => {
    const r = serverWith(REG);
    process.env.PORTSIDE_CADDYFILE = r.paths.caddyfile;
    try {
      const done = await store.ensureRegistry({ pm2List: pm2(r) });
      expect(done!.state).toBe('missing');
    } finally {
      delete process.env.PORTSIDE_CADDYFILE;
    }
    expect(readFileSync(at(REGISTRY_FILE), 'utf8')).toBe(renderRegistry(r));
    expect(notes[0]).toBe(`the registry (~/.portside/registry.json) was missing: rebuilt from the live Caddyfile ${r.paths.caddyfile} and the release manifests in ~/services and pm2's process list; services: extra-a 3001, simon 3000`);
  });

  test('corrupt: kept aside as registry.json.corrupt-<time>, rebuilt from the newest saved version', async () => {
    const r = serverWith(REG);
    store.writeRegistry(renderRegistry(r));
    writeFileSync(at(REGISTRY_FILE), '{ "version": 1, "services": {');
    const done = await store.ensureRegistry({ pm2List: pm2(r) });
    expect(done!.state).toBe('corrupt');
    expect(readFileSync(done!.aside!, 'utf8')).toBe('{ "version": 1, "services": {');
    expect(done!.aside).toMatch(/registry\.json\.corrupt-\d{8}T\d{6}\.\d{3}Z$/);
    expect(readFileSync(at(REGISTRY_FILE), 'utf8')).toBe(renderRegistry(r));
    expect(notes[0]).toMatch(/^the registry \(~\/\.portside\/registry\.json\) was corrupt \(not valid JSON .*kept as ~\/\.portside\/registry\.json\.corrupt-.*\): rebuilt from the saved version ~\/\.portside\/registry\.history\//);
  });
});
