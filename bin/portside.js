#!/usr/bin/env node
// The published entry: runs the CLI that `npm run build` bundled into dist/cli.js. In a checkout
// whose sources changed since that build, it rebuilds first (0.2 s), so an edit is never ignored.
'use strict';
const { existsSync } = require('fs');
const { join } = require('path');

const root = join(__dirname, '..');
if (existsSync(join(root, 'lib'))) {
  const build = require('../scripts/build.js');
  if (!build.isFresh()) build.build();
}

// The AWS SDK warns on every run that its releases from 2027 on need Node 22: news for Portside's
// maintainers (package.json engines), not for someone deploying a service.
const emitWarning = process.emitWarning;
process.emitWarning = function filtered(warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0] && rest[0].type;
  if (type === 'NodeVersionSupportWarning' || String(warning).startsWith('NodeVersionSupportWarning')) return;
  return emitWarning.call(process, warning, ...rest);
};

require('../dist/cli.js');
