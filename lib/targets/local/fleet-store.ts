import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../package-root';
import { inNetns } from './exec';
import { FLEET_HOST_ADDRESS, FLEET_PATHS, STORE_ADDRESS, STORE_BUCKET, STORE_NETNS, STORE_PORT, STORE_REGION } from './fleet-constants';
import { LocalStore, localStore } from './fleet-description';
import { HostRequirementError } from './host-requirements';
import { netnsId, PartHealth } from './netns';
import { isAlive, livePid, netnsOf, readPid, sleep, terminate } from './processes';
import { tcpExchange, tcpOpen } from './probe';

/** The npm package that serves the S3 API (a devDependency; see the fleet contract for why not s3rver). */
export const STORE_PACKAGE = 'fauxqs';

/**
 * The store's program, run with `node --input-type=module -e` from the package root so `fauxqs` resolves
 * from its node_modules. It listens on 0.0.0.0 (fauxqs has no bind option): inside its own namespace
 * that is only the store's address on the fleet's bridge. fauxqs keeps objects in memory, so the bucket
 * is made at every start (its `init`), which also spares the CLI loading the AWS SDK for it.
 */
const STORE_PROGRAM = `const { startFauxqs } = await import(${JSON.stringify(STORE_PACKAGE)});
await startFauxqs({ port: ${STORE_PORT}, logger: false, defaultRegion: ${JSON.stringify(STORE_REGION)}, init: { buckets: [${JSON.stringify(STORE_BUCKET)}] } });
console.log('S3-compatible store (${STORE_PACKAGE}) listening on ${STORE_ADDRESS}:${STORE_PORT}');`;

const answers = (ms = 1000): Promise<boolean> => tcpOpen(STORE_ADDRESS, STORE_PORT, ms, FLEET_HOST_ADDRESS);

/**
 * Keep the store running in its namespace with the bucket in it, and store.json written. fauxqs keeps
 * objects in memory, so a restarted store is empty (but has its bucket). Resolves to true when it
 * (re)started the store.
 */
export async function ensureStore(log: (line: string) => void): Promise<boolean> {
  const pid = livePid(FLEET_PATHS.storePid);
  const running = Boolean(pid) && netnsOf(pid as number) === netnsId(STORE_NETNS) && (await bucketAnswer()) === 200;
  if (!running) {
    if (pid) await terminate([pid]);
    await startStore(log);
  }
  writeFileSync(FLEET_PATHS.storeJson, JSON.stringify(localStore(), null, 2) + '\n', { mode: 0o644 });
  return !running;
}

async function startStore(log: (line: string) => void): Promise<void> {
  if (!existsSync(join(PACKAGE_ROOT, 'node_modules', STORE_PACKAGE, 'package.json'))) {
    throw new HostRequirementError(`${STORE_PACKAGE}, the local fleet's S3-compatible store, is not installed in ${PACKAGE_ROOT}`,
      `It is a devDependency: run \`npm install\` in ${PACKAGE_ROOT} (not --omit=dev).`);
  }
  log(`starting the S3-compatible store (${STORE_PACKAGE}) on ${STORE_ADDRESS}:${STORE_PORT}`);
  const fd = openSync(FLEET_PATHS.storeLog, 'a');
  try {
    const argv = inNetns([process.execPath, '--input-type=module', '-e', STORE_PROGRAM], STORE_NETNS);
    // `ip netns exec` execs node in place, so the child's pid is the store's.
    const child = spawn(argv[0], argv.slice(1), { cwd: PACKAGE_ROOT, detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (!child.pid) throw new Error(`could not start the store (${argv.join(' ')})`);
    writeFileSync(FLEET_PATHS.storePid, `${child.pid}\n`);
    const deadline = Date.now() + 15000;
    while (!(await answers(300))) {
      if (!isAlive(child.pid) || Date.now() > deadline) {
        throw new Error(`the S3-compatible store did not start listening on ${STORE_ADDRESS}:${STORE_PORT}; see ${FLEET_PATHS.storeLog}`);
      }
      await sleep(100);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The HTTP status of HEAD /<bucket>[/<key>] (S3's HeadBucket or HeadObject, path style), or undefined without
 * an answer. Plain HTTP, unsigned: the store checks no signature, and status must not load the AWS SDK.
 */
export async function storeHeadStatus(key?: string): Promise<number | undefined> {
  const path = key === undefined ? `/${STORE_BUCKET}` : `/${STORE_BUCKET}/${key}`;
  const reply = await tcpExchange(STORE_ADDRESS, STORE_PORT, `HEAD ${path} HTTP/1.1\r\nHost: ${STORE_ADDRESS}:${STORE_PORT}\r\nConnection: close\r\n\r\n`, 2000, false, FLEET_HOST_ADDRESS);
  const m = /^HTTP\/[\d.]+ (\d{3})/.exec(reply ?? '');
  return m ? Number(m[1]) : undefined;
}

const bucketAnswer = (): Promise<number | undefined> => storeHeadStatus();

/** S3Client settings for the local store: exactly what a caller on AWS passes, plus the endpoint and path style. */
export function s3Settings(store: LocalStore): { endpoint: string; region: string; forcePathStyle: true; credentials: { accessKeyId: string; secretAccessKey: string } } {
  return {
    endpoint: store.endpoint, region: store.region, forcePathStyle: true,
    credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey },
  };
}

/** Stop the store (its objects are gone with it: it keeps them in memory). */
export async function stopStore(): Promise<void> {
  const pid = livePid(FLEET_PATHS.storePid);
  if (pid) await terminate([pid]);
}

/** Running, and HeadBucket on the fleet's bucket answers 200. */
export async function storeHealth(): Promise<PartHealth> {
  const pid = readPid(FLEET_PATHS.storePid);
  if (!pid || !isAlive(pid)) return { ok: false, detail: 'not running' };
  const bucket = await bucketAnswer();
  if (bucket === undefined) return { ok: false, detail: `pid ${pid} does not answer on ${STORE_ADDRESS}:${STORE_PORT}` };
  if (bucket !== 200) return { ok: false, detail: `pid ${pid} on ${STORE_ADDRESS}:${STORE_PORT} answers ${bucket} for bucket ${STORE_BUCKET}` };
  return { ok: true, detail: `pid ${pid} (${STORE_PACKAGE}) on ${STORE_ADDRESS}:${STORE_PORT}, bucket ${STORE_BUCKET}` };
}
