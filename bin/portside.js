#!/usr/bin/env node
// The published entry. It runs the CLI from plain JavaScript transpiled from bin/ and lib/ (with
// esbuild, which tsx already brings) into node_modules/.cache/portside/cli: loading that takes
// ~0.25 s, against ~0.75 s through the tsx loader. The cache is rebuilt whenever any source file's
// size or modification time differs from what it was built from; when it can't be built (a
// read-only install, esbuild missing, a syntax error mid-edit) the CLI runs through tsx as before.
// Bump BUILD_VERSION when the way files are transpiled changes.
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const OUT = path.join(ROOT, 'node_modules', '.cache', 'portside', 'cli');
const SOURCES = ['bin', 'lib'];
const BUILD_VERSION = '2';
// Packages that cost a lot to load and that most commands never touch (`--target aws` and stack
// commands do): their require() becomes a proxy that loads the package on first use. esbuild's
// CommonJS output reads named imports as properties at each use, so the proxy is transparent.
const LAZY = /require\("((?:@aws-sdk\/|@smithy\/|aws-cdk-lib|constructs|cdk-nag)[^"]*)"\)/g;
const LAZY_HELPER = 'var __portside_lazy = (id) => { let m; const load = () => (m === undefined ? (m = require(id)) : m); '
  + 'return new Proxy({}, { get: (_, k) => load()[k], has: (_, k) => k in load(), ownKeys: () => Reflect.ownKeys(load()), '
  + 'getOwnPropertyDescriptor: (_, k) => { const d = Object.getOwnPropertyDescriptor(load(), k); return d && { ...d, configurable: true }; } }); };';

function listSources() {
  const files = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(r);
    }
  };
  SOURCES.forEach(walk);
  return files.sort();
}

function fingerprint(files) {
  return files.map((f) => {
    const st = fs.statSync(path.join(ROOT, f));
    return `${f}:${st.size}:${st.mtimeMs}`;
  }).join('\n') + `\nbuild ${BUILD_VERSION}`;
}

/** Transpile every source file; each keeps its source folder as __dirname (assets are found relative to it). */
function build(files, stamp) {
  const esbuild = require('esbuild');
  const tmp = `${OUT}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const f of files) {
    const out = path.join(tmp, f.replace(/\.ts$/, '.js'));
    const srcDir = path.relative(path.dirname(path.join(OUT, f)), path.dirname(path.join(ROOT, f)));
    const { code } = esbuild.transformSync(fs.readFileSync(path.join(ROOT, f), 'utf8'), {
      loader: 'ts', format: 'cjs', platform: 'node', target: 'node20', sourcefile: f,
      define: { __dirname: '__portside_srcdir' },
      banner: `var __portside_srcdir = require("path").join(__dirname, ${JSON.stringify(srcDir.split(path.sep).join('/'))}); ${LAZY_HELPER}`,
    });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, code.replace(LAZY, '__portside_lazy("$1")'));
  }
  fs.writeFileSync(path.join(tmp, 'stamp.txt'), stamp);
  const old = `${OUT}.old-${process.pid}`;
  if (fs.existsSync(OUT)) fs.renameSync(OUT, old);
  fs.renameSync(tmp, OUT);
  fs.rmSync(old, { recursive: true, force: true });
}

function compiledEntry() {
  if (process.env.PORTSIDE_NO_CACHE) return null;
  try {
    const files = listSources();
    const stamp = fingerprint(files);
    let built = '';
    try {
      built = fs.readFileSync(path.join(OUT, 'stamp.txt'), 'utf8');
    } catch {
      /* not built yet */
    }
    if (built !== stamp) build(files, stamp);
    return path.join(OUT, 'bin', 'cli.js');
  } catch {
    return null;
  }
}

// The AWS SDK warns on every run that its releases from 2027 on need Node 22: news for Portside's
// maintainers (package.json engines), not for someone deploying a service.
const emitWarning = process.emitWarning;
process.emitWarning = function filtered(warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0] && rest[0].type;
  if (type === 'NodeVersionSupportWarning' || String(warning).startsWith('NodeVersionSupportWarning')) return;
  return emitWarning.call(process, warning, ...rest);
};

const entry = compiledEntry();
if (entry) {
  require(entry);
} else {
  require('tsx/cjs');
  require('./cli.ts');
}
