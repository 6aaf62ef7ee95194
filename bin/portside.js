#!/usr/bin/env node
// The `portside` command: runs dist/cli.js, the bundle `npm run build` makes (npm install runs it
// through `prepare`). In a git checkout it first checks that no source changed since that build, and
// rebuilds if one did (~0.25 s), so an edit is never ignored; the check stats ~200 source files (3–5 ms).
// An installed copy has no .git and nothing to check.
'use strict';
const { existsSync } = require('fs');
const { join } = require('path');

const root = join(__dirname, '..');
if (existsSync(join(root, '.git')) || !existsSync(join(root, 'dist', 'cli.js'))) {
  const build = require('../scripts/build.js');
  if (!build.isFresh()) build.build();
}
// Node 22+ keeps V8's compiled code for the bundle and its packages between runs; Node 20 has no such
// cache, so the bundle (which includes ssh2) is loaded with V8's code cache by scripts/code-cache.js.
const Module = require('module');
if (Module.enableCompileCache) {
  Module.enableCompileCache();
  require('../dist/cli.js');
} else {
  require('../scripts/code-cache.js').requireWithCodeCache(join(root, 'dist', 'cli.js'));
}
