import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { releaseFiles } from '../../lib/deploy/file-list';
import { inspectServiceFolder } from '../../lib/deploy/service-folder';
import { buildReleaseArchive } from '../../lib/fleet/release-archive';
import { ReleaseStore } from '../../lib/fleet/release-store';
import { getServiceEnv, putServiceEnv, serviceEnvProblem } from '../../lib/fleet/secrets';
import { deployToFleet, FleetDeployOptions } from '../../lib/fleet/fleet-deploy';
import type { Fleet } from '../../lib/fleet/fleet-target';
import { UserError } from '../../lib/errors';
import { emptyManifest, MANIFEST_KEY, renderManifest, withRelease } from '../../lib/fleet/store-layout';

const SECRET = 'DATABASE_PASSWORD=hunter2-very-secret';
const s3 = new S3Client({ region: 'us-east-1' });
const ssm = new SSMClient({ region: 'us-east-1' });
const s3Mock = mockClient(s3);
const ssmMock = mockClient(ssm);
beforeEach(() => {
  s3Mock.reset();
  ssmMock.reset();
});

/** The test's service folders, removed after it. */
const folders: string[] = [];
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A service folder with a secret in .env beside the code (never part of a release). */
function serviceFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-store-'));
  folders.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'simon', main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), 'require("http").createServer((q, s) => s.end("ok")).listen(process.argv[2]);\n');
  writeFileSync(join(dir, '.env'), `${SECRET}\n`);
  return dir;
}
const bodyText = async (b: unknown): Promise<string> => {
  if (typeof b === 'string') return b;
  const chunks: Buffer[] = [];
  for await (const c of b as Readable) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('latin1');
};
/** What the SDK's GetObject Body offers (the two calls the store makes). */
const body = (text: string) => ({ transformToString: async () => text, transformToByteArray: async () => new Uint8Array(Buffer.from(text)) });

describe('release archive', () => {
  test('the same files make the same bytes (one name in the store), and tar reads them back', async () => {
    const dir = serviceFolder();
    const files = await releaseFiles(inspectServiceFolder(dir).sources);
    const a = await buildReleaseArchive(files);
    await new Promise((r) => setTimeout(r, 1100)); // a new second: a time-stamped archive would differ
    const b = await buildReleaseArchive(files);
    expect(b.sha256).toBe(a.sha256);
    expect(a.sha256).toBe(createHash('sha256').update(readFileSync(a.path)).digest('hex'));
    expect(execFileSync('tar', ['-tzf', a.path], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()).toEqual(['index.js', 'package.json']);
    a.remove();
    b.remove();
  });
});

describe('ReleaseStore', () => {
  const descriptor = (sha: string) => ({ version: 1 as const, service: 'simon', release: sha, releaseId: '20261130T132623Z-1a2b', files: [], start: { script: 'index.js' }, healthPath: '/' });

  test('uploads an archive the store lacks, then its descriptor; the secret beside the code is in neither', async () => {
    const files = await releaseFiles(inspectServiceFolder(serviceFolder()).sources);
    const archive = await buildReleaseArchive(files);
    s3Mock.on(HeadObjectCommand).rejects(Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }));
    s3Mock.on(PutObjectCommand).resolves({});
    const store = new ReleaseStore(s3, 'releases-bucket');
    expect(await store.putRelease(archive, descriptor(archive.sha256))).toBe(true);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key)).toEqual([`releases/simon/${archive.sha256}.tar.gz`, `releases/simon/${archive.sha256}.json`]);
    expect(puts.every((p) => p.Bucket === 'releases-bucket')).toBe(true);
    expect(puts[0].ContentLength).toBe(archive.size);
    for (const p of puts) expect(await bodyText(p.Body)).not.toContain('hunter2');
    expect(execFileSync('tar', ['-xzOf', archive.path], { encoding: 'utf8' })).not.toContain('hunter2');
    archive.remove();
  });

  test('uploads an archive the store has already only as its descriptor (upload once)', async () => {
    const archive = await buildReleaseArchive(await releaseFiles(inspectServiceFolder(serviceFolder()).sources));
    s3Mock.on(HeadObjectCommand).resolves({});
    s3Mock.on(PutObjectCommand).resolves({});
    expect(await new ReleaseStore(s3, 'b').putRelease(archive, descriptor(archive.sha256))).toBe(false);
    expect(s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).toEqual([`releases/simon/${archive.sha256}.json`]);
    archive.remove();
  });

  test('a fleet without a manifest reads as empty; a manifest is read back and validated', async () => {
    s3Mock.on(GetObjectCommand, { Key: MANIFEST_KEY }).rejectsOnce(Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' }));
    const store = new ReleaseStore(s3, 'b');
    expect(await store.readManifest()).toMatchObject({ exists: false, manifest: { services: {}, static: null } });
    const m = withRelease(emptyManifest(), 'simon', { port: 3000, release: 'a'.repeat(64), releaseId: '20261130T132623Z-1a2b' });
    s3Mock.on(GetObjectCommand, { Key: MANIFEST_KEY }).resolves({ Body: body(renderManifest(m)) } as never);
    expect(await store.readManifest()).toEqual({ manifest: m, exists: true });
    s3Mock.on(GetObjectCommand, { Key: MANIFEST_KEY }).resolves({ Body: body('{"version":7}') } as never);
    await expect(store.readManifest()).rejects.toThrow(/version 7 must be 1/);
  });

  test('writeManifest writes manifest/current.json as JSON', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    await new ReleaseStore(s3, 'b').writeManifest(emptyManifest(new Date('2026-11-30T00:00:00Z')));
    const put = s3Mock.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(put).toMatchObject({ Bucket: 'b', Key: 'manifest/current.json', ContentType: 'application/json' });
    expect(JSON.parse(put.Body as string)).toEqual({ version: 1, updatedAt: '2026-11-30T00:00:00.000Z', services: {}, static: null });
  });

  test('an access error is not taken for a missing object', async () => {
    s3Mock.on(HeadObjectCommand).rejects(Object.assign(new Error('Forbidden'), { name: 'Forbidden', $metadata: { httpStatusCode: 403 } }));
    await expect(new ReleaseStore(s3, 'b').has('releases/simon/x.tar.gz')).rejects.toThrow('Forbidden');
  });
});

describe('service env in SSM', () => {
  test('is written as a SecureString under /portside/<stack>/<service>/env, overwriting the last one', async () => {
    ssmMock.on(PutParameterCommand).resolves({});
    await putServiceEnv(ssm, 'Portside', 'simon', `${SECRET}\n`);
    expect(ssmMock.commandCalls(PutParameterCommand)[0].args[0].input).toMatchObject({ Name: '/portside/Portside/simon/env', Type: 'SecureString', Overwrite: true, Value: `${SECRET}\n` });
  });
  test('is read back decrypted; a service without one reads as null', async () => {
    ssmMock.on(GetParameterCommand).resolvesOnce({ Parameter: { Value: SECRET } });
    expect(await getServiceEnv(ssm, 'Portside', 'simon')).toBe(SECRET);
    expect(ssmMock.commandCalls(GetParameterCommand)[0].args[0].input).toEqual({ Name: '/portside/Portside/simon/env', WithDecryption: true });
    ssmMock.on(GetParameterCommand).rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }));
    expect(await getServiceEnv(ssm, 'Portside', 'simon')).toBeNull();
  });
  test('refuses an env file larger than a standard parameter, without printing it or calling SSM', async () => {
    const big = `K=${'x'.repeat(5000)}`;
    await expect(putServiceEnv(ssm, 'Portside', 'simon', big)).rejects.toThrow(/is 5002 bytes; an SSM standard parameter holds at most 4096/);
    await expect(putServiceEnv(ssm, 'Portside', 'simon', big)).rejects.not.toThrow(/xxxx/);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });
  test('counts the limit in UTF-8 bytes: 4096 pass, 4097 do not, a multi-byte character counts its bytes', () => {
    expect(serviceEnvProblem('simon', `K=${'x'.repeat(4094)}`)).toBeNull();
    expect(serviceEnvProblem('simon', `K=${'x'.repeat(4095)}`)?.message).toMatch(/is 4097 bytes/);
    expect(serviceEnvProblem('simon', `K=${'é'.repeat(2047)}`)).toBeNull();
    expect(serviceEnvProblem('simon', `K=${'é'.repeat(2048)}`)?.message).toMatch(/is 4098 bytes/); // 2050 characters
  });
  test('refuses text in double braces, which PutParameter rejects, naming the line and not the value', async () => {
    const env = `A=1\n# a comment\nGREETING=hello {{name}} from hunter2\n`;
    const problem = serviceEnvProblem('simon', env);
    expect(problem?.message).toMatch(/"simon" has text in double braces \{\{…\}\} on line 3; Parameter Store/);
    expect(`${problem?.message} ${problem?.detail}`).not.toMatch(/hunter2|name\}/);
    await expect(putServiceEnv(ssm, 'Portside', 'simon', env)).rejects.toThrow(UserError);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(serviceEnvProblem('simon', 'A={x}\nB=}}{{\nC={ {y} }\n')).toBeNull();
  });
});

describe('deploy-service --fleet with an env file Parameter Store would refuse', () => {
  test('stops before the build, so before any upload', async () => {
    const dir = serviceFolder();
    const envFile = join(dir, 'big.env');
    writeFileSync(envFile, `K=${'x'.repeat(5000)}\n`);
    // A build that never ends: had the deploy reached it (or the uploads after it), this would not settle.
    const building = new Promise<never>(() => {});
    const logged: string[] = [];
    const fleet: Fleet = {
      kind: 'aws', servers: [], address: '192.0.2.1', discover: async () => [],
      store: { bucket: 'b', region: 'us-east-1' }, secrets: { stackName: 'Portside', region: 'us-east-1' },
    };
    const o: FleetDeployOptions = { name: 'simon', dir, envFile, log: (l) => logged.push(l), building };
    await expect(deployToFleet(fleet, o)).rejects.toThrow(/is 5003 bytes; an SSM standard parameter holds at most 4096/);
    expect(logged).toEqual([]);
  });
});
