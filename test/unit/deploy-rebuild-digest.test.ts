/**
 * What the CLI plans when the release's digest comes from its record (listRelease) and the server leaves
 * the current files out for it: a front end built again for another base, a settings change beside it, and
 * a folder shape that moves the same files to other release paths must all be deployed, never called
 * "unchanged". deployService runs against a fake agent (an SshSession whose execAgent speaks the agent's
 * line protocol and keeps the files it was sent); the real agent is tested end to end in test/e2e.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { renderCaddyfile } from '../../lib/caddy';
import { deployService } from '../../lib/deploy/deploy-service';
import { releaseFiles } from '../../lib/deploy/file-list';
import { HashCache, SETTLE_MS } from '../../lib/deploy/hash-cache';
import { inspectServiceFolder } from '../../lib/deploy/service-folder';
import { encodeLine, LineDecoder, manifestDigest, startsUpload, WireObject } from '../../lib/protocol';
import { Registry, renderRegistry } from '../../lib/registry';
import type { SshSession } from '../../lib/ssh';

const LATER = SETTLE_MS + 3000;
let work: string;
let app: string;

/** What the fake server holds: the current release's files and settings, and its registry. */
interface Server {
  id: string | null;
  files: Array<{ p: string; h: string; s: number; m: number }> | null;
  meta: Record<string, unknown> | null;
  routing: 'subdomain' | 'path';
  plans: WireObject[];
}

function registryOf(s: Server): Registry {
  return { version: 1, domain: 'portside.test', routing: s.routing, tls: 'internal', services: { app: 3000 }, paths: { www: '/srv/www', caddyfile: '/srv/etc/Caddyfile' } };
}

function fakeSession(server: Server): SshSession {
  const execAgent = (_path: string, _command: string, opts: { stdin?: NodeJS.ReadableStream; onStdout?(c: Buffer): void } = {}) => new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
    const send = (m: object): void => opts.onStdout!(Buffer.from(encodeLine(m)));
    const decoder = new LineDecoder(startsUpload);
    let n = 0;
    let plan: WireObject | undefined;
    const finish = (): void => {
      if (!plan) return;
      const p = plan;
      plan = undefined;
      server.plans.push(p);
      if (p.unchanged) {
        send({ type: 'result', ok: true, unchanged: true, id: server.id });
      } else {
        server.files = p.files as Server['files'];
        server.meta = { id: p.id, start: p.start, healthPath: p.healthPath, port: p.port, by: 'x', at: 'y' };
        server.id = p.id as string;
        send({ type: 'result', ok: true, id: p.id });
      }
      resolve({ stdout: '', stderr: '', code: 0 });
    };
    const stdin = opts.stdin as PassThrough;
    stdin.on('data', (chunk: Buffer) => {
      for (const line of decoder.push(chunk).lines) {
        const m = line.message!;
        n++;
        if (n === 1) continue; // header
        if (m.type === 'digest') {
          const digest = m.digest as string | null;
          const has = server.files !== null && digest !== null && manifestDigest(server.files) === digest;
          const current = server.files === null ? { id: null, files: null, meta: null }
            : has ? { id: server.id, files: null, meta: server.meta, digest } : { id: server.id, files: server.files, meta: server.meta };
          const reg = registryOf(server);
          send({ type: 'state', current, registry: renderRegistry(reg), caddyfile: renderCaddyfile(reg) });
        } else if (m.type === 'plan') {
          plan = m;
          if (!m.upload) finish();
        } else if (m.type === 'abort') {
          send({ type: 'result', ok: true, aborted: true });
          resolve({ stdout: '', stderr: '', code: 0 });
        }
      }
    });
    stdin.on('end', finish);
  });
  return { hostKeyFingerprint: 'SHA256:x', exec: async () => ({ stdout: '', stderr: '', code: 0 }), execAgent, run: async () => ({ stdout: '', stderr: '', code: 0 }), close: async () => {} } as unknown as SshSession;
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'portside-rebuild-digest-'));
  app = join(work, 'app');
  mkdirSync(join(app, 'service'), { recursive: true });
  mkdirSync(join(app, 'src'), { recursive: true });
  mkdirSync(join(app, 'node_modules', '.bin'), { recursive: true });
  // The course's shape: `npm run build` is `vite build`; a stand-in vite writes dist/ for the base it is given.
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', scripts: { build: 'vite build' } }));
  writeFileSync(join(app, 'src', 'main.js'), 'export const one = 1;\n');
  writeFileSync(join(app, 'node_modules', '.bin', 'vite'), `#!/usr/bin/env node
const fs = require('fs');
const base = (process.argv.find((a) => a.startsWith('--base=')) || '--base=/').slice(7);
fs.rmSync('dist', { recursive: true, force: true });
fs.mkdirSync('dist/assets', { recursive: true });
fs.writeFileSync('dist/index.html', '<script src="' + base + 'assets/main.js"></script>\\n');
fs.copyFileSync('src/main.js', 'dist/assets/main.js');
`);
  chmodSync(join(app, 'node_modules', '.bin', 'vite'), 0o755);
  writeFileSync(join(app, 'service', 'package.json'), JSON.stringify({ name: 'service', main: 'index.js' }));
  writeFileSync(join(app, 'service', 'index.js'), 'require("http").createServer().listen(process.argv[2]);\n');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

async function deploy(server: Server, keepReleaseRecord: boolean, healthPath?: string): Promise<{ unchanged: boolean; log: string[]; plan: WireObject }> {
  const hashes = new HashCache(join(work, 'home', 'file-hashes', 'app.tsv'), () => Date.now() + LATER, app);
  if (!keepReleaseRecord) {
    const dir = join(work, 'home', 'file-hashes', 'app.listings');
    for (const name of (() => { try { return readdirSync(dir); } catch { return []; } })()) {
      if (readFileSync(join(dir, name), 'latin1').startsWith('portside release digest v1\n')) rmSync(join(dir, name));
    }
  }
  const log: string[] = [];
  const out = await deployService(fakeSession(server), { name: 'app', dir: app, address: '127.0.0.1', log: (l) => log.push(l), hashes, healthPath });
  hashes.save();
  return { unchanged: out.unchanged, log, plan: server.plans[server.plans.length - 1] };
}

/** The app folder emptied, with only its back end in server/ (the shapes below add the rest). */
function freshAppWithServer(): void {
  rmSync(app, { recursive: true, force: true });
  mkdirSync(join(app, 'server'), { recursive: true });
  writeFileSync(join(app, 'server', 'package.json'), JSON.stringify({ name: 'server', main: 'index.js' }));
  writeFileSync(join(app, 'server', 'index.js'), 'require("http").createServer().listen(process.argv[2]);\n');
}

const servedIndex = (server: Server): string | undefined => server.files?.find((f) => f.p === 'public/index.html')?.h;
const localIndex = async (): Promise<string | undefined> => (await releaseFiles(inspectServiceFolder(app).sources)).find((f) => f.p === 'public/index.html')?.h;

test.each([
  ['with the release digest record (new fast path)', true],
  ['without it (the manifest made at listing time)', false],
])('routing moves from subdomain to path after a deploy: the front end is rebuilt for /app/ and sent — %s', async (_name, keepRecord) => {
  const server: Server = { id: null, files: null, meta: null, routing: 'subdomain', plans: [] };
  await deploy(server, true); // first deploy: builds for /, sends everything
  const second = await deploy(server, true); // nothing changed: the release digest is remembered
  expect(second.plan.unchanged).toBe(true);
  const servedBefore = servedIndex(server);
  server.routing = 'path'; // the server now serves by path: /app/
  const third = await deploy(server, keepRecord);
  expect(third.log.join('\n')).toContain('building the front end again for /app/');
  const local = await localIndex();
  // The local front end was rebuilt for /app/: its index.html differs from the one the server has.
  expect(local).not.toBe(servedBefore);
  expect(third.plan.unchanged).toBe(false);
  expect(servedIndex(server)).toBe(local);
});

test('the same with a settings change (health path) in that deploy: the rebuilt index.html is sent, not kept from the old build', async () => {
  const server: Server = { id: null, files: null, meta: null, routing: 'subdomain', plans: [] };
  await deploy(server, true);
  await deploy(server, true);
  const servedBefore = servedIndex(server);
  server.routing = 'path';
  const third = await deploy(server, true, '/health');
  const kept = (third.plan.keep as string[]).includes('public/index.html');
  const local = await localIndex();
  expect(kept).toBe(false);
  expect(servedBefore).not.toBe(local);
});

test('static.from moved one level down (dist -> dist/client), no file changed: the release paths change, and are deployed', async () => {
  freshAppWithServer();
  mkdirSync(join(app, 'dist', 'client'), { recursive: true });
  writeFileSync(join(app, 'dist', 'client', 'index.html'), '<p>hi</p>\n');
  const field = (from: string): void => writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', portside: { service: 'server', static: { from, to: 'public' } } }));
  field('dist');
  const server: Server = { id: null, files: null, meta: null, routing: 'subdomain', plans: [] };
  await deploy(server, true);
  await deploy(server, true);
  field('dist/client');
  const third = await deploy(server, true);
  expect(third.plan.unchanged).toBe(false);
  expect(server.files!.map((f) => f.p)).toContain('public/index.html');
  expect(server.files!.map((f) => f.p)).not.toContain('public/client/index.html');
});

test('a build whose output lands inside the release folder (no static field): a rebuild for another base is sent, not the listing from before it', async () => {
  freshAppWithServer();
  mkdirSync(join(app, 'src'), { recursive: true });
  mkdirSync(join(app, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', scripts: { build: 'vite build' }, portside: { build: 'build', service: 'server' } }));
  writeFileSync(join(app, 'src', 'main.js'), 'export const one = 1;\n');
  // The build writes into the back end's folder (server/public/), which is the release.
  writeFileSync(join(app, 'node_modules', '.bin', 'vite'), `#!/usr/bin/env node
const fs = require('fs');
const base = (process.argv.find((a) => a.startsWith('--base=')) || '--base=/').slice(7);
fs.mkdirSync('server/public', { recursive: true });
fs.writeFileSync('server/public/index.html', '<script src="' + base + 'main.js"></script>\\n');
`);
  chmodSync(join(app, 'node_modules', '.bin', 'vite'), 0o755);
  const server: Server = { id: null, files: null, meta: null, routing: 'subdomain', plans: [] };
  await deploy(server, true);
  await deploy(server, true);
  server.routing = 'path';
  const third = await deploy(server, true);
  expect(third.log.join('\n')).toContain('building the front end again for /app/');
  expect(third.plan.unchanged).toBe(false);
  const local = (await releaseFiles(inspectServiceFolder(app).sources)).find((f) => f.p === 'public/index.html')?.h;
  expect(server.files!.find((f) => f.p === 'public/index.html')?.h).toBe(local);
});

test('static.from is a symbolic link moved to another level of the same files: the release paths change, and are deployed', async () => {
  freshAppWithServer();
  mkdirSync(join(app, 'out', 'client'), { recursive: true });
  writeFileSync(join(app, 'out', 'client', 'index.html'), '<p>hi</p>\n');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', portside: { service: 'server', static: { from: 'dist', to: 'public' } } }));
  symlinkSync('out/client', join(app, 'dist'));
  const server: Server = { id: null, files: null, meta: null, routing: 'subdomain', plans: [] };
  await deploy(server, true);
  await deploy(server, true);
  expect(server.files!.map((f) => f.p)).toContain('public/index.html');
  rmSync(join(app, 'dist'));
  symlinkSync('out', join(app, 'dist'));
  const third = await deploy(server, true);
  expect(third.plan.unchanged).toBe(false);
  expect(server.files!.map((f) => f.p)).toContain('public/client/index.html');
});
