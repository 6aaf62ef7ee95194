#!/usr/bin/env node
// Portside's build: three bundles made with esbuild, run by `npm install` (prepare), `npm run build`
// and `npm test`. dist/ is build output, never committed.
//   dist/cli.js            the CLI (bin/cli.ts); npm packages stay external (node_modules has them)
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
  return parts.sort().join('\n');
}

function build() {
  const esbuild = require('esbuild');
  // Taken before bundling: a file edited during the build leaves dist/ stale, not falsely fresh.
  const sources = fingerprint();
  const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none', write: false };
  const outputs = [
    ...esbuild.buildSync({ ...common, entryPoints: [path.join(ROOT, 'bin', 'cli.ts')], outfile: path.join(DIST, 'cli.js'), packages: 'external' }).outputFiles,
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
  for (const out of [...outputs, { path: path.join(DIST, 'build.json'), contents: Buffer.from(JSON.stringify({ sources })) }]) {
    fs.mkdirSync(path.dirname(out.path), { recursive: true });
    const tmp = `${out.path}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, out.contents);
    fs.renameSync(tmp, out.path);
  }
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
