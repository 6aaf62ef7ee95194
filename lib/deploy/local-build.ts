import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../cli/command';
import { buildManifest, listFiles } from './file-list';
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

/**
 * Build the front end unless its inputs are unchanged since the last build whose output is still
 * there untouched: everything outside node_modules, the output and the back end, hashed.
 */
export async function buildIfNeeded(spec: ReleaseSpec, log: (line: string) => void, force = false): Promise<'built' | 'skipped' | 'none'> {
  const build = spec.build;
  if (!build) return 'none';
  const outputName = build.output.slice(spec.folder.length + 1);
  const backEnd = spec.sources.find((s) => s.prefix === '' && s.dir !== spec.folder)?.dir.slice(spec.folder.length + 1);
  const skip = (rel: string): boolean => rel === outputName || rel.startsWith(`${outputName}/`) || (!!backEnd && (rel === backEnd || rel.startsWith(`${backEnd}/`)));
  const inputs = await digest(listFiles(spec.folder, '', skip));
  const cacheFile = join(spec.folder, 'node_modules', '.cache', 'portside', 'build.json');
  if (!force && existsSync(build.output) && existsSync(cacheFile)) {
    try {
      const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
      if (cache.inputs === inputs && cache.output === (await digest(listFiles(build.output)))) {
        log('  front end unchanged since the last build: skipping it');
        return 'skipped';
      }
    } catch {
      /* a broken cache is a miss */
    }
  }
  if (!existsSync(join(build.cwd, 'node_modules'))) {
    const lock = existsSync(join(build.cwd, 'package-lock.json'));
    log(`  installing build dependencies (${lock ? 'npm ci' : 'npm install'})`);
    await runLocal(lock ? ['npm', 'ci', '--no-audit', '--no-fund'] : ['npm', 'install', '--no-audit', '--no-fund'], build.cwd, log);
  }
  log(`  ${build.argv.join(' ')}`);
  await runLocal(build.argv, build.cwd, log);
  if (!existsSync(build.output)) throw new UserError(`${build.argv.join(' ')} succeeded but made no ${outputName}/`, 'Check the build\'s output folder (Vite: build.outDir).');
  mkdirSync(join(cacheFile, '..'), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify({ inputs, output: await digest(listFiles(build.output)) }));
  return 'built';
}

async function digest(files: ReturnType<typeof listFiles>): Promise<string> {
  const h = createHash('sha256');
  for (const f of await buildManifest(files)) h.update(`${f.p}\0${f.h}\0${f.m}\n`);
  return h.digest('hex');
}
