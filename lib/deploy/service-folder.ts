import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors';
import type { ReleaseSource } from './file-list';

/** How the server starts a release: a node entry file (pm2 cluster mode) or an npm script (fork mode). */
export interface StartSpec {
  readonly script?: string;
  readonly npmScript?: string;
}

/** What a service folder becomes on the server. */
export interface ReleaseSpec {
  /** `node`: the folder is the release; `fullstack`: the course's Vite front end + `service/`; `custom`: the `portside` field. */
  readonly kind: 'node' | 'fullstack' | 'custom';
  readonly folder: string;
  /** A build to run on this machine first (argv, run in `cwd`), producing `output`. */
  readonly build?: { readonly cwd: string; readonly argv: readonly string[]; readonly output: string };
  /** Folders whose files make the release, each under a prefix. */
  readonly sources: readonly ReleaseSource[];
  readonly start: StartSpec;
  readonly healthPath?: string;
}

/**
 * The optional `portside` field of package.json, for folders of any other shape:
 * ```json
 * "portside": { "build": "build", "service": "server", "static": { "from": "dist", "to": "public" },
 *               "start": "server.js", "healthPath": "/api/health" }
 * ```
 * `build` names an npm script run at the folder's root; `service` is the folder that becomes the
 * release (default: the root); `static` copies a build output into it; `start` is the entry file.
 */
export interface PortsideField {
  readonly build?: string;
  readonly service?: string;
  readonly static?: { readonly from: string; readonly to: string };
  readonly start?: string;
  readonly healthPath?: string;
}

/** Read and check a service folder, or throw a UserError that says what is wrong and how to fix it. */
export function inspectServiceFolder(dir: string): ReleaseSpec {
  const folder = resolve(dir);
  if (folder === '/') throw new UserError('refusing to deploy the root folder "/"', 'Point --dir at the service\'s own folder, e.g. --dir services/simon');
  if (!existsSync(folder)) throw new UserError(`the service folder ${dir} does not exist`, 'Pass --dir <folder>, or create services/<name>/.');
  if (!statSync(folder).isDirectory()) throw new UserError(`--dir ${dir} is a file, not a folder`, 'Pass the folder that holds package.json.');
  const pkg = readPackage(folder, dir);
  const field = pkg.portside as PortsideField | undefined;
  if (field !== undefined) return customSpec(folder, field, pkg);

  const scripts = (pkg.scripts ?? {}) as Record<string, string>;
  const servicePkg = join(folder, 'service', 'package.json');
  if (existsSync(servicePkg) && typeof scripts.build === 'string') {
    const service = join(folder, 'service');
    return {
      kind: 'fullstack',
      folder,
      build: { cwd: folder, argv: ['npm', 'run', 'build'], output: join(folder, 'dist') },
      sources: [{ dir: service, prefix: '', skipPrefix: 'public/' }, { dir: join(folder, 'dist'), prefix: 'public/' }],
      start: startOf(service, readPackage(service, join(dir, 'service'))),
    };
  }
  return { kind: 'node', folder, sources: [{ dir: folder, prefix: '' }], start: startOf(folder, pkg) };
}

function customSpec(folder: string, field: PortsideField, pkg: Record<string, unknown>): ReleaseSpec {
  const bad = (msg: string): never => {
    throw new UserError(`package.json "portside" field: ${msg}`, 'See the README section "Folder shapes" for the field\'s format.');
  };
  if (typeof field !== 'object' || field === null || Array.isArray(field)) bad(`must be an object, got ${JSON.stringify(field)}`);
  const rel = (key: string, v: unknown): string => {
    if (typeof v !== 'string' || v === '' || v.startsWith('/') || v.split('/').includes('..')) bad(`${key} must be a path inside the folder, got ${JSON.stringify(v)}`);
    return v as string;
  };
  const scripts = (pkg.scripts ?? {}) as Record<string, string>;
  if (field.build !== undefined && (typeof field.build !== 'string' || !scripts[field.build])) bad(`build names an npm script of this package.json; "${field.build}" is not one`);
  const serviceDir = field.service === undefined ? folder : join(folder, rel('service', field.service));
  const servicePkg = readPackage(serviceDir, serviceDir);
  const sources: ReleaseSource[] = [];
  let output: string | undefined;
  if (field.static !== undefined) {
    const from = rel('static.from', field.static?.from);
    const to = rel('static.to', field.static?.to).replace(/\/+$/, '');
    output = join(folder, from);
    sources.push({ dir: serviceDir, prefix: '', skipPrefix: `${to}/` }, { dir: output, prefix: `${to}/` });
  } else {
    sources.push({ dir: serviceDir, prefix: '' });
  }
  if (field.healthPath !== undefined && (typeof field.healthPath !== 'string' || !field.healthPath.startsWith('/'))) bad(`healthPath must start with "/", got ${JSON.stringify(field.healthPath)}`);
  const start = field.start !== undefined ? { script: rel('start', field.start) } : startOf(serviceDir, servicePkg);
  if (start.script && !existsSync(join(serviceDir, start.script))) bad(`start names ${start.script}, which is not in ${serviceDir}`);
  return {
    kind: 'custom',
    folder,
    build: field.build ? { cwd: folder, argv: ['npm', 'run', field.build], output: output ?? folder } : undefined,
    sources,
    start,
    healthPath: field.healthPath,
  };
}

function readPackage(folder: string, shown: string): Record<string, unknown> {
  const file = join(folder, 'package.json');
  if (!existsSync(file)) {
    throw new UserError(`${shown} has no package.json`, 'A Node service needs a package.json with a "start" script or "main" (npm init -y makes one).');
  }
  try {
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    if (!pkg || typeof pkg !== 'object' || Array.isArray(pkg)) throw new Error('not an object');
    return pkg;
  } catch (e) {
    throw new UserError(`${shown}/package.json is not valid JSON: ${(e as Error).message}`, 'Fix the file (npm pkg fix can help) and deploy again.');
  }
}

/** `"start": "node index.js"` → index.js (cluster mode); `main`; index.js; else the npm script. */
export function startOf(folder: string, pkg: Record<string, unknown>): StartSpec {
  const scripts = (pkg.scripts ?? {}) as Record<string, unknown>;
  const start = typeof scripts.start === 'string' ? scripts.start.trim() : undefined;
  const m = start ? /^node\s+([A-Za-z0-9_./-]+\.(?:c|m)?js)$/.exec(start) : null;
  if (m && existsSync(join(folder, m[1]))) return { script: m[1].replace(/^\.\//, '') };
  if (start) return { npmScript: 'start' };
  if (typeof pkg.main === 'string' && existsSync(join(folder, pkg.main))) return { script: pkg.main.replace(/^\.\//, '') };
  if (existsSync(join(folder, 'index.js'))) return { script: 'index.js' };
  throw new UserError(`${folder} has no way to start: package.json has no "start" script or "main", and there is no index.js`,
    'Add "scripts": { "start": "node index.js" } to package.json.');
}
