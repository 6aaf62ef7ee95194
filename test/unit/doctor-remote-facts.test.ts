/**
 * doctor's facts script (lib/doctor/remote), bundled as scripts/build.js bundles it and run the way
 * doctor runs it on a server (`node -e <script> <mode>`), here against a home folder laid out as the
 * server map says. Real node, real files, a real HTTP server on loopback.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSync } from 'esbuild';
import type { ProbeAnswers, ProbeRequest, RemoteRead } from '../../lib/doctor/remote/messages';
import {
  CURRENT_LINK, REGISTRY_FILE, REGISTRY_HISTORY_DIR, RELEASE_MANIFEST, releaseDir, RELEASES_SUBDIR, serviceDir,
} from '../../lib/remote/layout';

const SCRIPT = buildSync({
  entryPoints: [join(__dirname, '..', '..', 'lib', 'doctor', 'remote', 'main.ts')],
  bundle: true, platform: 'node', target: 'node20', format: 'cjs', write: false, logLevel: 'silent',
}).outputFiles[0].text;

let home: string;

/** Run the script as doctor does, with HOME at the fixture; stdout parsed, or the exit code and stderr. */
async function facts<T>(...args: string[]): Promise<T> {
  const { stdout } = await promisify(execFile)('node', ['-e', SCRIPT, ...args], { env: { ...process.env, HOME: home, PM2_HOME: join(home, '.pm2') } });
  return JSON.parse(stdout) as T;
}

function write(relative: string, text: string): void {
  mkdirSync(join(home, relative, '..'), { recursive: true });
  writeFileSync(join(home, relative), text);
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'doctor-facts-'));
  write(REGISTRY_FILE, JSON.stringify({ version: 1, services: { simon: 3000 }, paths: { www: '/var/www', caddyfile: join(home, 'Caddyfile') } }));
  write('Caddyfile', ':80 {\n}\n');
  for (const n of ['20260101T000000Z.json', '20260102T000000Z.json', '.partial']) write(`${REGISTRY_HISTORY_DIR}/${n}`, '{}');
  write(`${releaseDir('simon', 'r1')}/${RELEASE_MANIFEST}`, JSON.stringify({ healthPath: '/health' }));
  symlinkSync(join(RELEASES_SUBDIR, 'r1'), join(home, serviceDir('simon'), CURRENT_LINK));
  mkdirSync(join(home, releaseDir('legacy', 'r0')), { recursive: true });
  symlinkSync(join(RELEASES_SUBDIR, 'r0'), join(home, serviceDir('legacy'), CURRENT_LINK));
  mkdirSync(join(home, serviceDir('removed')), { recursive: true });
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('doctor\'s facts script, read mode', () => {
  test('reads the registry, its history (newest first), and the Caddyfile the registry names', async () => {
    const r = await facts<RemoteRead>('read');
    expect(JSON.parse(r.registryText!).services).toEqual({ simon: 3000 });
    expect(r.registryHistory).toEqual(['20260102T000000Z.json', '20260101T000000Z.json']);
    expect(r.caddyfile).toBe(':80 {\n}\n');
  });

  test('each service folder: its current release and that release\'s health path (/ without a manifest)', async () => {
    expect((await facts<RemoteRead>('read')).folders).toEqual([
      { name: 'legacy', release: 'r0', healthPath: '/' },
      { name: 'removed', release: null, healthPath: '/' },
      { name: 'simon', release: 'r1', healthPath: '/health' },
    ]);
  });

  test('no pm2 daemon: an empty list, and no daemon is started', async () => {
    expect((await facts<RemoteRead>('read')).pm2).toEqual([]);
    expect(existsSync(join(home, '.pm2'))).toBe(false);
  });

  test('disk and memory as numbers', async () => {
    const { capacity } = await facts<RemoteRead>('read');
    expect(capacity).toEqual({ diskFreeBytes: expect.any(Number), diskTotalBytes: expect.any(Number), memAvailableBytes: expect.any(Number), memTotalBytes: expect.any(Number) });
  });

  test('no registry: null, and no Caddyfile either', async () => {
    const saved = home;
    home = mkdtempSync(join(tmpdir(), 'doctor-facts-empty-'));
    try {
      expect(await facts<RemoteRead>('read')).toMatchObject({ registryText: null, registryHistory: [], caddyfile: null, folders: [] });
    } finally {
      rmSync(home, { recursive: true, force: true });
      home = saved;
    }
  });
});

describe('doctor\'s facts script, probe mode', () => {
  let server: Server;
  let port: number;
  const seen: Array<{ host?: string; url?: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ host: req.headers.host, url: req.url });
      res.statusCode = req.url === '/health' ? 200 : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('GETs on loopback: the status directly, and through the URL\'s host name; a refused port is its error code', async () => {
    const request: ProbeRequest = {
      direct: [{ name: 'simon', port, path: '/health' }, { name: 'gone', port: 1, path: '/' }],
      viaCaddy: [{ name: 'simon', url: `http://simon.example.click:${port}/nothing` }],
      certificates: [],
    };
    expect(await facts<ProbeAnswers>('probe', JSON.stringify(request))).toEqual({ direct: { simon: 200, gone: 'ECONNREFUSED' }, viaCaddy: { simon: 404 }, certificates: [] });
    expect(seen).toContainEqual({ host: `simon.example.click:${port}`, url: '/nothing' });
  });

  test('an unknown mode exits 1 and says so', async () => {
    await expect(facts('audit')).rejects.toMatchObject({ code: 1, stderr: 'unknown mode audit\n' });
  });
});
