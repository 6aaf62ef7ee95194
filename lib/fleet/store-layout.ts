/**
 * The one map of a fleet's release store (an S3 bucket on AWS; locally an S3-compatible store): its
 * keys, the manifest's type and the release descriptor's type, and pure validators for what is read
 * back. The CLI's rollout, the server's `converge` and `services` import it; a key written anywhere
 * else is a second definition. Pure: no SDK, no I/O.
 *
 *   releases/<service>/<sha256>.tar.gz   a service's release: a plain ustar archive of its files
 *   releases/<service>/<sha256>.json     its descriptor: release id, files (path, sha256, size, mode), start, health path
 *   static/<sha256>.tar.gz               the static site's release
 *   static/<sha256>.json                 its descriptor: release id and files
 *   agent/<version>.tar.gz               the server agent (dist/server) a new server converges with
 *   manifest/current.json                what the fleet runs; written LAST, so it never names a missing object
 *
 * Secrets (env files) are never in the store: SSM Parameter Store SecureString `secretParameterName`.
 */
import { serviceNameProblem } from '../config/validators';
import type { StartSpec, WireFile } from '../protocol';

export const MANIFEST_KEY = 'manifest/current.json';
export const MANIFEST_VERSION = 1;
export const RELEASES_PREFIX = 'releases/';
export const STATIC_PREFIX = 'static/';
export const AGENT_PREFIX = 'agent/';
/** The agent's version: the first 16 hex digits of its bundle's hash (lib/deploy/agent-client.ts). */
const AGENT_VERSION = /^[0-9a-f]{16}$/;

const SHA256 = /^[0-9a-f]{64}$/;
/** The agent's release ids: `20261130T132623Z-1a2b` (lib/protocol/release-id.ts). */
const RELEASE_ID = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$/;

/** One service as the fleet should run it. */
export interface ManifestService {
  readonly port: number;
  /** The sha256 of the release tarball (its key in the store). */
  readonly release: string;
  /** The agent's release id every server uses for it, so `services` can compare servers and manifest. */
  readonly releaseId: string;
}

/** `manifest/current.json`: what every server of the fleet converges to. */
export interface FleetManifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly updatedAt: string;
  readonly services: Readonly<Record<string, ManifestService>>;
  /** The static site (deploy-files): its archive's sha256 and the release id every server uses. */
  readonly static: StaticEntry | null;
  /**
   * The agent version the last rollout ran (`agent/<version>.tar.gz`): what a server booting with no
   * agent fetches to converge (lib/fleet/portside-converge.sh). @default - none yet
   */
  readonly agent?: string;
}

/** The static site in the manifest. `releaseId` is optional only for manifests written before it existed. */
export interface StaticEntry {
  readonly release: string;
  readonly releaseId?: string;
}

/** `static/<sha256>.json`: the static site release's id and files, for `converge`. */
export interface StaticDescriptor {
  readonly version: typeof MANIFEST_VERSION;
  readonly release: string;
  readonly releaseId: string;
  readonly files: readonly WireFile[];
}

/** `releases/<service>/<sha256>.json`: what `converge` needs to install a release without the CLI. */
export interface ReleaseDescriptor {
  readonly version: typeof MANIFEST_VERSION;
  readonly service: string;
  readonly release: string;
  readonly releaseId: string;
  readonly files: readonly WireFile[];
  readonly start: StartSpec;
  readonly healthPath: string;
}

/** The manifest of a fleet nothing was deployed to yet. */
export function emptyManifest(now = new Date()): FleetManifest {
  return { version: MANIFEST_VERSION, updatedAt: now.toISOString(), services: {}, static: null };
}

/** The key of a service's release tarball. */
export function releaseKey(service: string, sha256: string): string {
  return `${RELEASES_PREFIX}${checkedName(service)}/${checkedSha(sha256)}.tar.gz`;
}

/** The key of a service release's descriptor (beside its tarball). */
export function descriptorKey(service: string, sha256: string): string {
  return `${RELEASES_PREFIX}${checkedName(service)}/${checkedSha(sha256)}.json`;
}

/** The key of a static site's release tarball. */
export function staticKey(sha256: string): string {
  return `${STATIC_PREFIX}${checkedSha(sha256)}.tar.gz`;
}

/** The key of the agent bundle of a version. */
export function agentKey(version: string): string {
  if (!AGENT_VERSION.test(version)) throw new Error(`agent version ${JSON.stringify(version)} must be 16 hex digits`);
  return `${AGENT_PREFIX}${version}.tar.gz`;
}

/** The key of a static site release's descriptor (beside its archive). */
export function staticDescriptorKey(sha256: string): string {
  return `${STATIC_PREFIX}${checkedSha(sha256)}.json`;
}

/** The SSM parameter (SecureString) holding a service's env file: never a key of the store. */
export function secretParameterName(stackName: string, service: string): string {
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    throw new Error(`stack name ${JSON.stringify(stackName)} cannot name an SSM parameter: use letters, digits and "-", starting with a letter`);
  }
  return `/portside/${stackName}/${checkedName(service)}/env`;
}

/** The manifest with one service set to a new release (pure; the input is not changed). */
export function withRelease(m: FleetManifest, service: string, entry: ManifestService, now = new Date()): FleetManifest {
  return { ...m, updatedAt: now.toISOString(), services: { ...m.services, [checkedName(service)]: entry } };
}

/** The manifest without a service. */
export function withoutService(m: FleetManifest, service: string, now = new Date()): FleetManifest {
  const services = { ...m.services };
  delete services[service];
  return { ...m, updatedAt: now.toISOString(), services };
}

/** A manifest as stored: pretty JSON with a final newline (readable with `aws s3 cp … -`). */
export function renderManifest(m: FleetManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** Thrown for a manifest or descriptor read back that is not what Portside writes. */
export class StoreLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreLayoutError';
  }
}

const FIX = `write it again with a deploy (portside deploy-service <name>), or restore an earlier version of ${MANIFEST_KEY} (the bucket is versioned)`;

/** Parse and check `manifest/current.json`; a bad one throws with the field, the value, the rule and the fix. */
export function parseManifest(text: string): FleetManifest {
  const m = parseObject(text, MANIFEST_KEY);
  expect(m.version === MANIFEST_VERSION, 'version', m.version, `must be ${MANIFEST_VERSION}`);
  expect(typeof m.updatedAt === 'string' && !Number.isNaN(Date.parse(m.updatedAt)), 'updatedAt', m.updatedAt, 'must be an ISO date');
  expect(isObject(m.services), 'services', m.services, 'must be an object of service name → release');
  const services: Record<string, ManifestService> = {};
  for (const [name, v] of Object.entries(m.services as Record<string, unknown>)) services[name] = serviceEntry(name, v);
  const staticOk = m.static === null || (isObject(m.static) && SHA256.test(String(m.static.release))
    && (m.static.releaseId === undefined || RELEASE_ID.test(String(m.static.releaseId))));
  expect(staticOk, 'static', m.static, 'must be null or {"release": "<sha256>", "releaseId": "<release id>"}');
  const st = m.static as StaticEntry | null;
  expect(m.agent === undefined || (typeof m.agent === 'string' && AGENT_VERSION.test(m.agent)), 'agent', m.agent, 'must be an agent version (16 hex digits) when present');
  const agent = m.agent === undefined ? {} : { agent: m.agent as string };
  return { version: MANIFEST_VERSION, updatedAt: m.updatedAt as string, services, static: st && { release: st.release, ...(st.releaseId ? { releaseId: st.releaseId } : {}) }, ...agent };
}

function serviceEntry(name: string, v: unknown): ManifestService {
  expect(serviceNameProblem(name) === undefined, 'services', name, 'each key must be a valid service name');
  expect(isObject(v), `services.${name}`, v, 'must be {"port", "release", "releaseId"}');
  const e = v as Record<string, unknown>;
  expect(Number.isInteger(e.port) && (e.port as number) >= 1 && (e.port as number) <= 65535, `services.${name}.port`, e.port, 'must be a port number');
  expect(typeof e.release === 'string' && SHA256.test(e.release), `services.${name}.release`, e.release, 'must be a sha256 (64 hex digits)');
  expect(typeof e.releaseId === 'string' && RELEASE_ID.test(e.releaseId), `services.${name}.releaseId`, e.releaseId, 'must be an agent release id like 20261130T132623Z-1a2b');
  return { port: e.port as number, release: e.release as string, releaseId: e.releaseId as string };
}

/** Parse and check a release descriptor; `expected` is the sha256 it was read under. */
export function parseDescriptor(text: string, service: string, expected: string): ReleaseDescriptor {
  const where = descriptorKey(service, expected);
  const d = parseObject(text, where);
  const at = (field: string): string => `${where}: ${field}`;
  expect(d.version === MANIFEST_VERSION, at('version'), d.version, `must be ${MANIFEST_VERSION}`);
  expect(d.service === service, at('service'), d.service, `must be ${JSON.stringify(service)}`);
  expect(d.release === expected, at('release'), d.release, `must be the sha256 it is stored under (${expected})`);
  expect(typeof d.releaseId === 'string' && RELEASE_ID.test(d.releaseId), at('releaseId'), d.releaseId, 'must be an agent release id');
  expect(Array.isArray(d.files) && d.files.every(isWireFile), at('files'), '[…]', 'must list {p, h, s, m} for each file');
  expect(isObject(d.start) && (typeof d.start.script === 'string' || typeof d.start.npmScript === 'string'), at('start'), d.start, 'must be {"script"} or {"npmScript"}');
  expect(typeof d.healthPath === 'string' && d.healthPath.startsWith('/'), at('healthPath'), d.healthPath, 'must be a URL path');
  return d as unknown as ReleaseDescriptor;
}

/** Parse and check a static site release's descriptor; `expected` is the sha256 it was read under. */
export function parseStaticDescriptor(text: string, expected: string): StaticDescriptor {
  const where = staticDescriptorKey(expected);
  const d = parseObject(text, where);
  const at = (field: string): string => `${where}: ${field}`;
  expect(d.version === MANIFEST_VERSION, at('version'), d.version, `must be ${MANIFEST_VERSION}`);
  expect(d.release === expected, at('release'), d.release, `must be the sha256 it is stored under (${expected})`);
  expect(typeof d.releaseId === 'string' && RELEASE_ID.test(d.releaseId), at('releaseId'), d.releaseId, 'must be an agent release id');
  expect(Array.isArray(d.files) && d.files.every(isWireFile), at('files'), '[…]', 'must list {p, h, s, m} for each file');
  return d as unknown as StaticDescriptor;
}

function isWireFile(f: unknown): boolean {
  if (!isObject(f)) return false;
  return typeof f.p === 'string' && typeof f.h === 'string' && SHA256.test(f.h) && Number.isInteger(f.s) && Number.isInteger(f.m);
}

function parseObject(text: string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new StoreLayoutError(`${where} is not JSON (${(e as Error).message}): ${FIX}`);
  }
  if (!isObject(v)) throw new StoreLayoutError(`${where} must be a JSON object, got ${JSON.stringify(v)?.slice(0, 60)}: ${FIX}`);
  return v;
}

function expect(ok: boolean, field: string, value: unknown, rule: string): void {
  if (!ok) throw new StoreLayoutError(`${field.includes(':') ? field : `${MANIFEST_KEY}: ${field}`} ${JSON.stringify(value)?.slice(0, 80)} ${rule}; ${FIX}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkedName(service: string): string {
  const p = serviceNameProblem(service);
  if (p) throw new Error(`invalid service name ${JSON.stringify(service)}: ${p}`);
  return service;
}

function checkedSha(sha256: string): string {
  if (!SHA256.test(sha256)) throw new Error(`release ${JSON.stringify(sha256)} must be a sha256 (64 lowercase hex digits)`);
  return sha256;
}
