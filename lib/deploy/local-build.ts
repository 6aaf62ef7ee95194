import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors';
import { writeFileAtomic } from '../fs/write-atomic';
import { buildManifest, folderListing, folderManifest, ListedFile, listFilesPausing, ReleaseFile } from './file-list';
import { buildArgvFor } from './front-end-base';
import type { HashCache } from './hash-cache';
import { ReleaseSpec } from './service-folder';

/** Run a program with argv (no shell), streaming its output through `log`. */
export function runLocal(argv: readonly string[], cwd: string, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let tail = '';
    const onData = (d: Buffer): void => {
      tail = (tail + d.toString()).slice(-4000);
      for (const line of d.toString().split('\n')) if (line.trim()) log(`    ${line}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new UserError(`could not run ${argv.join(' ')}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new UserError(`${argv.join(' ')} failed in ${cwd} (exit ${code})`, tail.trim().split('\n').slice(-10).join('\n')))));
  });
}

const cacheFileOf = (spec: ReleaseSpec): string => join(spec.folder, 'node_modules', '.cache', 'portside', 'build.json');

/**
 * The base path the last build was made for (`/`, or `/<name>/` under path routing), or undefined
 * when there was none. The deploy starts its build before it knows the server's routing: the last
 * build's base is its guess, so a server that keeps its routing never waits for the connection.
 */
export function lastBuildBase(spec: ReleaseSpec): string | undefined {
  try {
    const base = JSON.parse(readFileSync(cacheFileOf(spec), 'utf8')).base;
    return typeof base === 'string' ? base : '/';
  } catch {
    return undefined;
  }
}

/**
 * Build the front end for `base` unless its inputs are unchanged since the last build for the same
 * base whose output is still there untouched: everything outside node_modules, the output and the
 * back end, hashed (through `hashes`, when given, so unchanged files are not read again).
 */
export async function buildIfNeeded(spec: ReleaseSpec, log: (line: string) => void, force = false, base = '/', hashes?: HashCache): Promise<'built' | 'skipped' | 'none'> {
  const build = spec.build;
  if (!build) return 'none';
  // The caller starts connecting right after starting this check: let it begin before the listing.
  await new Promise((r) => setImmediate(r));
  const outputName = build.output.slice(spec.folder.length + 1);
  const backEnd = spec.sources.find((s) => s.prefix === '' && s.dir !== spec.folder)?.dir.slice(spec.folder.length + 1);
  const skip = (rel: string): boolean => rel === outputName || rel.startsWith(`${outputName}/`) || (!!backEnd && (rel === backEnd || rel.startsWith(`${backEnd}/`)));
  const cacheFile = cacheFileOf(spec);
  const record = readBuildRecord(cacheFile);
  const inputs = await inputsDigest(await listFilesPausing(spec.folder, '', skip), record, hashes);
  // A record from before bases were recorded was a build for `/`.
  if (!force && record && existsSync(build.output) && record.inputs === inputs.digest && (record.base ?? '/') === base) {
    const output = await outputDigest(build.output, record, hashes);
    if (record.output === output.digest) {
      const stamps = { inputsStamp: inputs.stamp ?? record.inputsStamp, outputStamp: output.stamp ?? record.outputStamp };
      if (stamps.inputsStamp !== record.inputsStamp || stamps.outputStamp !== record.outputStamp) writeFileAtomic(cacheFile, JSON.stringify({ ...record, ...stamps }));
      log('  front end unchanged since the last build: skipping it');
      return 'skipped';
    }
  }
  if (!existsSync(join(build.cwd, 'node_modules'))) {
    const lock = existsSync(join(build.cwd, 'package-lock.json'));
    log(`  installing build dependencies (${lock ? 'npm ci' : 'npm install'})`);
    await runLocal(lock ? ['npm', 'ci', '--no-audit', '--no-fund'] : ['npm', 'install', '--no-audit', '--no-fund'], build.cwd, log);
  }
  const argv = buildArgvFor(build.argv, scriptText(build), base) ?? build.argv;
  if (argv === build.argv && base !== '/') {
    log(`  warning: the server serves this service under ${base}, and ${build.argv.join(' ')} is not a Vite build Portside can give --base=${base};`
      + ` build it for ${base} yourself, or its pages' absolute /… URLs reach the root site`);
  }
  log(`  ${argv.join(' ')}`);
  hashes?.forget(resolve(build.output));
  await runLocal(argv, build.cwd, log);
  if (!existsSync(build.output)) throw new UserError(`${argv.join(' ')} succeeded but made no ${outputName}/`, 'Check the build\'s output folder (Vite: build.outDir).');
  mkdirSync(join(cacheFile, '..'), { recursive: true });
  // The release's manifest reuses this listing of the new output (folderManifest): listed and hashed once.
  const output = await outputDigest(build.output, null, hashes);
  const made: BuildRecord = { inputs: inputs.digest, base, output: output.digest, inputsStamp: inputs.stamp, outputStamp: output.stamp };
  writeFileAtomic(cacheFile, JSON.stringify(made));
  return 'built';
}

/** What the last build recorded: its inputs' digest, the base it was built for, its output's digest, and its inputs' stamp digest. */
interface BuildRecord {
  readonly inputs: string;
  readonly base?: string;
  readonly output: string;
  /** The placed stamp digest of the inputs' listing (HashCache.placedStampOf), when every hash in it was trusted. @default - none */
  readonly inputsStamp?: string;
  /** The same for the output's listing, recorded once a deploy found the output as built with trusted hashes. @default - none */
  readonly outputStamp?: string;
}

/** The last build's record; null when there is none, or it is broken (a miss). */
function readBuildRecord(file: string): BuildRecord | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    return typeof r?.inputs === 'string' && typeof r.output === 'string' ? r as BuildRecord : null;
  } catch {
    return null;
  }
}

/**
 * The digest of the build's inputs, and their listing's stamp digest when every hash in it is trusted
 * (see stampedDigest): no manifest of 5,000 unchanged inputs is made (~30 ms).
 */
function inputsDigest(listing: readonly ListedFile[], record: BuildRecord | null, hashes?: HashCache): Promise<{ digest: string; stamp?: string }> {
  return stampedDigest(listing, record && { digest: record.inputs, stamp: record.inputsStamp }, () => buildManifest(listing, hashes), hashes);
}

/**
 * The digest of the build's output, and its listing's stamp digest when every hash in it is trusted
 * (see stampedDigest): a deploy where nothing changed may then need no hash of its files at all (see listRelease).
 */
async function outputDigest(output: string, record: BuildRecord | null, hashes?: HashCache): Promise<{ digest: string; stamp?: string }> {
  const listing = await folderListing(output, hashes);
  return stampedDigest(listing, record && { digest: record.output, stamp: record.outputStamp }, () => folderManifest(output, hashes), hashes);
}

/**
 * A listing's digest: the recorded one when the listing has the placed stamps recorded with it (the same
 * files, unchanged by the rule HashCache trusts; their records kept as used), else its manifest's. The
 * listing's stamp comes back only when every hash in it is trusted, for the record to keep.
 */
async function stampedDigest(listing: readonly ListedFile[], recorded: { digest: string; stamp?: string } | null, manifest: () => Promise<ReleaseFile[]>, hashes?: HashCache): Promise<{ digest: string; stamp?: string }> {
  const stamp = hashes?.placedStampOf(listing);
  if (stamp !== undefined && recorded?.stamp === stamp) {
    hashes!.keepListing(listing);
    return { digest: recorded.digest, stamp };
  }
  const digest = digestOf(await manifest());
  return { digest, stamp: hashes?.isTrusted(listing) ? stamp : undefined };
}

/** The npm script the build runs (`npm run <script>`), as package.json spells it. */
function scriptText(build: NonNullable<ReleaseSpec['build']>): string | undefined {
  if (build.argv[0] !== 'npm' || build.argv[1] !== 'run') return undefined;
  try {
    const script = JSON.parse(readFileSync(join(build.cwd, 'package.json'), 'utf8')).scripts?.[build.argv[2]];
    return typeof script === 'string' ? script : undefined;
  } catch {
    return undefined;
  }
}

/** One hash for a set of files: their paths, contents and modes (one update: 5,000 calls cost ~3 ms more). */
function digestOf(files: readonly ReleaseFile[]): string {
  return createHash('sha256').update(files.map((f) => `${f.p}\0${f.h}\0${f.m}\n`).join('')).digest('hex');
}
