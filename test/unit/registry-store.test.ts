/**
 * The registry on disk (lib/agent/registry-store.ts) in a throwaway home: every write keeps its
 * version (the last 10, mode 0600), replaced Caddyfiles are kept, and a missing or corrupt registry is
 * rebuilt from the server's files, the corrupt one kept aside.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCaddyfile } from '../../lib/caddy';
import { createStore } from '../../lib/agent/registry-store';
import { Registry, renderRegistry } from '../../lib/registry';

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
});

const dir = (...p: string[]) => join(home, '.portside', ...p);
const REG: Registry = {
  version: 1, domain: 'portside.test', routing: 'subdomain', tls: 'internal', services: { simon: 3000, 'extra-a': 3001 },
  paths: { www: join(tmpdir(), 'www'), caddyfile: '' },
};

test('every write keeps its version, 0600, the newest equal to the registry, at most 10', () => {
  mkdirSync(dir(), { recursive: true });
  writeFileSync(dir('registry.json'), 'the seed\n', { mode: 0o644 });
  for (let i = 0; i < 14; i++) store.writeRegistry(`version ${i}\n`);
  const saved = readdirSync(dir('registry.history')).sort();
  expect(saved).toHaveLength(store.KEEP);
  expect(readFileSync(dir('registry.history', saved[saved.length - 1]), 'utf8')).toBe('version 13\n');
  expect(readFileSync(dir('registry.json'), 'utf8')).toBe('version 13\n');
  expect(statSync(dir('registry.json')).mode & 0o777).toBe(0o600);
  for (const f of saved) expect(statSync(dir('registry.history', f)).mode & 0o777).toBe(0o600);
});

test('the first write also keeps the registry it replaces; an unchanged write adds nothing', () => {
  mkdirSync(dir(), { recursive: true });
  writeFileSync(dir('registry.json'), 'the seed\n');
  store.writeRegistry('one\n');
  store.writeRegistry('one\n');
  const saved = readdirSync(dir('registry.history')).sort();
  expect(saved.map((f) => readFileSync(dir('registry.history', f), 'utf8'))).toEqual(['the seed\n', 'one\n']);
});

test('replaced Caddyfiles are kept, the last 10', () => {
  for (let i = 0; i < 12; i++) store.backupCaddyfile(`caddy ${i}\n`);
  const kept = readdirSync(dir('caddyfile.history')).sort();
  expect(kept).toHaveLength(10);
  expect(kept.every((f) => f.endsWith('.Caddyfile'))).toBe(true);
  expect(readFileSync(dir('caddyfile.history', kept[9]), 'utf8')).toBe('caddy 11\n');
});

describe('ensureRegistry', () => {
  function serverWith(reg: Registry): Registry {
    const caddyfile = join(home, 'Caddyfile');
    const r = { ...reg, paths: { ...reg.paths, caddyfile } };
    writeFileSync(caddyfile, renderCaddyfile(r));
    for (const [name, port] of Object.entries(r.services)) {
      mkdirSync(join(home, 'services', name, 'releases', 'r1'), { recursive: true });
      writeFileSync(join(home, 'services', name, 'releases', 'r1', '.portside-release.json'), JSON.stringify({ id: 'r1', port }));
      symlinkSync('releases/r1', join(home, 'services', name, 'current'));
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
    expect(readFileSync(dir('registry.json'), 'utf8')).toBe(renderRegistry(r));
    expect(notes[0]).toBe(`the registry (~/.portside/registry.json) was missing: rebuilt from the live Caddyfile ${r.paths.caddyfile} and the release manifests in ~/services and pm2's process list; services: extra-a 3001, simon 3000`);
  });

  test('corrupt: kept aside as registry.json.corrupt-<time>, rebuilt from the newest saved version', async () => {
    const r = serverWith(REG);
    store.writeRegistry(renderRegistry(r));
    writeFileSync(dir('registry.json'), '{ "version": 1, "services": {');
    const done = await store.ensureRegistry({ pm2List: pm2(r) });
    expect(done!.state).toBe('corrupt');
    expect(readFileSync(done!.aside!, 'utf8')).toBe('{ "version": 1, "services": {');
    expect(done!.aside).toMatch(/registry\.json\.corrupt-\d{8}T\d{6}\.\d{3}Z$/);
    expect(readFileSync(dir('registry.json'), 'utf8')).toBe(renderRegistry(r));
    expect(notes[0]).toMatch(/^the registry \(~\/\.portside\/registry\.json\) was corrupt \(not valid JSON .*kept as ~\/\.portside\/registry\.json\.corrupt-.*\): rebuilt from the saved version ~\/\.portside\/registry\.history\//);
  });
});
