/**
 * The fleet's boot hook (lib/fleet/portside-converge.sh) run for real with bash and curl against a stand-in
 * S3 endpoint and a stand-in IMDSv2 on loopback: what it asks for, how curl signs it (checked by
 * recomputing the signature with the AWS SDK's own SigV4 signer), and what it does with the answer. The
 * branch that installs the agent and converges needs a deploy user: test/e2e/fleet-replace.test.ts.
 */
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { CONVERGE_HOOK_SCRIPT } from '../../lib/bootstrap/assets';
import { BOOTING_MARKER_FILE } from '../../lib/remote/layout';

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const ROLE = { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'role/secret+key', Token: 'session-token-of-the-role' };

const bytes = (d: string | ArrayBuffer | ArrayBufferView): string | Buffer =>
  typeof d === 'string' ? d : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d);

/** The SDK signer's hash: node's sha256 / HMAC-SHA256. */
class NodeSha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders }

/** One loopback server as both S3 (`/<bucket>/<key>`) and IMDS (`/latest/...`); S3 answers `s3Status`. */
async function standIns(s3Status: number, s3Body = '', onS3: () => void = () => undefined): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const imds = (req.url ?? '').startsWith('/latest/');
    if (imds && req.url === '/latest/api/token') return void res.end(req.method === 'PUT' ? 'imds-token' : '');
    if (imds && req.headers['x-aws-ec2-metadata-token'] !== 'imds-token') return void res.writeHead(401).end();
    if (req.url === '/latest/meta-data/iam/security-credentials/') return void res.end('portside-role');
    if (req.url === '/latest/meta-data/iam/security-credentials/portside-role') return void res.end(JSON.stringify({ Code: 'Success', ...ROLE }));
    onS3();
    res.writeHead(s3Status, { 'content-type': 'application/xml' }).end(s3Body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The test's folders (the settings file's, the marker's), removed after it. */
const temps: string[] = [];
const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Run the hook with a settings file of `settings` (as /etc/default/portside) and nothing else in its environment. */
function runHook(settings: Record<string, string>, env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const dir = tempDir('portside-converge-hook-');
  const defaults = join(dir, 'portside.env');
  writeFileSync(defaults, Object.entries(settings).map(([k, v]) => `export ${k}='${v}'\n`).join(''));
  return new Promise((resolve) => {
    execFile('bash', [CONVERGE_HOOK_SCRIPT], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORTSIDE_DEFAULTS: defaults, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }));
  });
}

/** The Authorization header the AWS SDK's SigV4 signer computes for the request the stand-in saw. */
async function sdkAuthorization(seen: Seen, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): Promise<string> {
  const signed = (seen.headers.authorization ?? '').match(/SignedHeaders=([^,]+)/)?.[1].split(';') ?? [];
  const headers = Object.fromEntries(signed.filter((h) => h !== 'x-amz-date').map((h) => [h, String(seen.headers[h])]));
  const amzDate = String(seen.headers['x-amz-date']);
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 's3', sha256: NodeSha256, uriEscapePath: false });
  const [hostname, port] = String(seen.headers.host).split(':');
  const request = { method: seen.method, protocol: 'http:', hostname, port: Number(port), path: seen.url, query: {}, headers };
  return String((await signer.sign(request, { signingDate })).headers.authorization);
}

describe('portside-converge.sh (the fleet\'s boot hook)', () => {
  const marker = (): string => join(tempDir('portside-marker-'), 'portside-converged');
  const base = (store: string, markerPath: string): Record<string, string> => ({
    PORTSIDE_USER: userInfo().username, PORTSIDE_REGION: 'us-east-1', PORTSIDE_STORE_BUCKET: 'releases', PORTSIDE_CONVERGED_MARKER: markerPath, PORTSIDE_STORE_ENDPOINT: store,
  });

  test('with a stand-in store\'s static keys: one signed GET of the manifest, path style; none yet means healthy at once', async () => {
    const s = await standIns(404);
    const m = marker();
    try {
      const r = await runHook({ ...base(s.url, m), PORTSIDE_STORE_ACCESS_KEY_ID: 'portside-local', PORTSIDE_STORE_SECRET_ACCESS_KEY: 'not-secret' });
      expect(r).toMatchObject({ code: 0 });
      expect(r.out).toContain('no manifest in s3://releases yet');
      expect(existsSync(m)).toBe(true);
      expect(statSync(m).uid).toBe(userInfo().uid);
      expect(s.seen.map((q) => `${q.method} ${q.url}`)).toEqual(['GET /releases/manifest/current.json']);
      expect(s.seen[0].headers['x-amz-content-sha256']).toBe(EMPTY_SHA256);
      expect(s.seen[0].headers['x-amz-security-token']).toBeUndefined();
      expect(s.seen[0].headers.authorization).toMatch(/SignedHeaders=host;x-amz-content-sha256;x-amz-date,/);
      expect(s.seen[0].headers.authorization).toBe(await sdkAuthorization(s.seen[0], { accessKeyId: 'portside-local', secretAccessKey: 'not-secret' }));
    } finally {
      await s.close();
    }
  });

  test('on EC2: the role\'s credentials from IMDSv2 (token first), the session token sent and signed', async () => {
    const s = await standIns(404);
    try {
      const r = await runHook(base(s.url, marker()), { PORTSIDE_IMDS_URL: `${s.url}/latest` });
      expect(r).toMatchObject({ code: 0 });
      expect(s.seen.map((q) => `${q.method} ${q.url}`)).toEqual([
        'PUT /latest/api/token', 'GET /latest/meta-data/iam/security-credentials/', 'GET /latest/meta-data/iam/security-credentials/portside-role',
        'GET /releases/manifest/current.json',
      ]);
      expect(s.seen[0].headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('300');
      const get = s.seen[3];
      expect(get.headers['x-amz-security-token']).toBe(ROLE.Token);
      expect(get.headers.authorization).toMatch(/SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
      expect(get.headers.authorization).toBe(await sdkAuthorization(get, { accessKeyId: ROLE.AccessKeyId, secretAccessKey: ROLE.SecretAccessKey, sessionToken: ROLE.Token }));
    } finally {
      await s.close();
    }
  });

  test('a store that refuses (403) fails the boot with the status and the permission, and leaves no marker from before', async () => {
    const s = await standIns(403, '<Error><Code>AccessDenied</Code></Error>');
    const m = marker();
    writeFileSync(m, '');
    try {
      const r = await runHook({ ...base(s.url, m), PORTSIDE_STORE_ACCESS_KEY_ID: 'k', PORTSIDE_STORE_SECRET_ACCESS_KEY: 's' });
      expect(r.code).toBe(1);
      expect(r.err).toContain('reading s3://releases/manifest/current.json answered HTTP 403 (the instance role must allow s3:GetObject and s3:ListBucket)');
      expect(existsSync(m)).toBe(false);
    } finally {
      await s.close();
    }
  });

  test.each([[404, 0], [403, 1]])('booting while it runs (the marker beside the health marker, for a rollout to see), not after: store answers %i, exit %i', async (status, code) => {
    const m = marker();
    const booting = join(dirname(m), BOOTING_MARKER_FILE);
    const seen: boolean[] = [];
    const s = await standIns(status, '', () => seen.push(existsSync(booting)));
    try {
      const r = await runHook({ ...base(s.url, m), PORTSIDE_STORE_ACCESS_KEY_ID: 'k', PORTSIDE_STORE_SECRET_ACCESS_KEY: 's' });
      expect(r.code).toBe(code);
      expect(seen).toEqual([true]);
      expect(existsSync(booting)).toBe(false);
    } finally {
      await s.close();
    }
  });

  test('a manifest that names no agent version fails the boot, saying what it named', async () => {
    const s = await standIns(200, JSON.stringify({ version: 1, services: {}, agent: '../x' }));
    try {
      const r = await runHook({ ...base(s.url, marker()), PORTSIDE_STORE_ACCESS_KEY_ID: 'k', PORTSIDE_STORE_SECRET_ACCESS_KEY: 's' });
      expect(r.code).toBe(1);
      expect(r.err).toContain('the manifest names no agent version ("../x")');
    } finally {
      await s.close();
    }
  });
});
