#!/usr/bin/env node
// The published entry: registers the TypeScript loader, then hands over to the CLI.

// The AWS SDK warns on every run that its releases from 2027 on need Node 22. That is news for the
// maintainers (package.json engines), not for someone deploying a service: keep it out of their output.
const emitWarning = process.emitWarning;
process.emitWarning = function filtered(warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0] && rest[0].type;
  if (type === 'NodeVersionSupportWarning' || String(warning).startsWith('NodeVersionSupportWarning')) return;
  return emitWarning.call(process, warning, ...rest);
};

require('tsx/cjs');
require('./cli.ts');
