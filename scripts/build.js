#!/usr/bin/env node
// Portside's build: three bundles made with esbuild, run by `npm install` (prepare), `npm run build`
// and `npm test`. dist/ is build output, never committed.
//   dist/cli.js            the CLI (bin/cli.ts); npm packages stay external (node_modules has them)
//   dist/keeper.js         the kept SSH connection the CLI leaves behind (lib/ssh/keeper/main.ts)
//   dist/server/agent.js   the agent the server runs with plain Node: everything bundled, no dependency
//   dist/server/preload.js the preload each service's process runs with
//   dist/server/adopt.js   the adopt / undo run on the server (lib/adopt/on-server)
// dist/build.json records the sources' fingerprint, so the shim can tell a checkout edited since.
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
/** Folders whose .ts/.js files make up the bundles (a change in one makes the build stale). */
const SOURCES = ['bin', 'lib'];

/** Each source file with its size and modification time: cheap to compute at every start. */
function fingerprint() {
  const parts = [];
  const walk = (rel) => {
    let entries;
    try {
      entries = fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (/\.(ts|js)$/.test(e.name)) {
        const st = fs.statSync(path.join(ROOT, r));
        parts.push(`${r}:${st.size}:${Math.trunc(st.mtimeMs)}`);
      }
    }
  };
  SOURCES.forEach(walk);
  // ssh2 is bundled into dist/cli.js: an upgraded ssh2 (or a native part npm built since) makes it stale too.
  for (const f of ['node_modules/ssh2/package.json', 'node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node']) {
    try {
      const st = fs.statSync(path.join(ROOT, f));
      parts.push(`${f}:${st.size}:${Math.trunc(st.mtimeMs)}`);
    } catch {
      parts.push(`${f}:absent`);
    }
  }
  return parts.sort().join('\n');
}

/**
 * npm packages stay external (node_modules has them), except ssh2 and what it requires: every deploy
 * loads it, and bundled it is one file that bin/portside.js's code cache covers (measured: require('ssh2')
 * ~38 ms from node_modules, resolving and compiling ~40 files). ssh2's optional native parts stay out,
 * required inside try blocks at run time: cpu-features from node_modules as before, sshcrypto.node from
 * the copy copySsh2Binding puts beside the bundle (absent where npm did not build it: package.json's
 * allowScripts denies ssh2's install script; ssh2 then uses its JS fallback, as it did unbundled).
 */
function externalExceptSsh2() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((n) => n !== 'ssh2');
  return [...names.flatMap((n) => [n, `${n}/*`]), 'cpu-features', '*.node'];
}

/**
 * ssh2's native crypto (AES-GCM, ChaCha20-Poly1305), when npm built it: the bundled ssh2 requires it by
 * a path relative to its own file, which from dist/cli.js is dist/crypto/build/Release/. Copied there, so
 * the CLI runs with it exactly where it did before ssh2 was bundled (its JS fallback decrypts ~2× slower);
 * removed when node_modules has none, so a stale copy never outlives an ssh2 upgrade.
 */
function copySsh2Binding() {
  const rel = path.join('crypto', 'build', 'Release', 'sshcrypto.node');
  const from = path.join(ROOT, 'node_modules', 'ssh2', 'lib', 'protocol', rel);
  const to = path.join(DIST, rel);
  if (!fs.existsSync(from)) return fs.rmSync(to, { force: true });
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const tmp = `${to}.tmp-${process.pid}`;
  fs.copyFileSync(from, tmp);
  fs.renameSync(tmp, to);
}

/**
 * The agent bundle's version as lib/deploy/agent-client.ts computes it (sha256 of each file's name and
 * bytes), with each file's size and mtime: a deploy then stats the files instead of hashing ~2 MB.
 */
function serverVersion() {
  const dir = path.join(DIST, 'server');
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.js')).sort();
  const h = require('crypto').createHash('sha256');
  const files = names.map((n) => {
    const f = path.join(dir, n);
    h.update(n).update('\0').update(fs.readFileSync(f));
    const st = fs.statSync(f);
    return { name: n, size: st.size, mtimeMs: st.mtimeMs };
  });
  return { version: h.digest('hex').slice(0, 16), files };
}

function build() {
  const esbuild = require('esbuild');
  // Taken before bundling: a file edited during the build leaves dist/ stale, not falsely fresh.
  const sources = fingerprint();
  const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none', write: false };
  const outputs = [
    ...esbuild.buildSync({ ...common, entryPoints: [path.join(ROOT, 'bin', 'cli.ts')], outfile: path.join(DIST, 'cli.js'), external: externalExceptSsh2() }).outputFiles,
    // The kept connection's background process (lib/ssh/keeper), beside cli.js so the bundled ssh2 finds its native part the same way.
    ...esbuild.buildSync({ ...common, entryPoints: [path.join(ROOT, 'lib', 'ssh', 'keeper', 'main.ts')], outfile: path.join(DIST, 'keeper.js'), external: externalExceptSsh2() }).outputFiles,
    ...esbuild.buildSync({ ...common, entryPoints: [path.join(ROOT, 'lib', 'agent', 'main.ts')], outfile: path.join(DIST, 'server', 'agent.js') }).outputFiles,
    ...esbuild.buildSync({ ...common, entryPoints: [path.join(ROOT, 'lib', 'agent', 'preload.ts')], outfile: path.join(DIST, 'server', 'preload.js') }).outputFiles,
    // A fleet server's access to the release store and SSM (the AWS SDK, ~2 MB): loaded by `converge` only.
    ...esbuild.buildSync({ ...common, entryPoints: [path.join(ROOT, 'lib', 'fleet', 'server-store.ts')], outfile: path.join(DIST, 'server', 'store.js') }).outputFiles,
    // portside adopt and adopt --undo run on the server as this (lib/adopt/on-server): a killed CLI or a cut connection cannot stop them half-way.
    ...esbuild.buildSync({ ...common, entryPoints: [path.join(ROOT, 'lib', 'adopt', 'on-server', 'main.ts')], outfile: path.join(DIST, 'server', 'adopt.js') }).outputFiles,
    // doctor's read-only facts script, run as `node -e`; outside dist/server, which every deploy ships.
    ...esbuild.buildSync({ ...common, entryPoints: [path.join(ROOT, 'lib', 'doctor', 'remote', 'main.ts')], outfile: path.join(DIST, 'doctor', 'remote-facts.js') }).outputFiles,
  ];
  // Each file is renamed into place whole, and build.json last: a CLI starting mid-build (or a second
  // build running at once) reads old or new files, never a half-written one.
  const write = (out) => {
    fs.mkdirSync(path.dirname(out.path), { recursive: true });
    const tmp = `${out.path}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, out.contents);
    fs.renameSync(tmp, out.path);
  };
  outputs.forEach(write);
  copySsh2Binding();
  write({ path: path.join(DIST, 'build.json'), contents: Buffer.from(JSON.stringify({ sources, server: serverVersion() })) });
}

/** Whether dist/ was built from the sources as they are now. */
function isFresh() {
  try {
    return JSON.parse(fs.readFileSync(path.join(DIST, 'build.json'), 'utf8')).sources === fingerprint();
  } catch {
    return false;
  }
}

module.exports = { build, isFresh, DIST };

if (require.main === module) {
  const t0 = Date.now();
  build();
  if (!process.argv.includes('--quiet')) console.log(`built dist/ (cli, server agent, preload) in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
}
