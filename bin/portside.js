#!/usr/bin/env node
// The published entry: registers the TypeScript loader, then hands over to the CLI.
require('tsx/cjs');
require('./cli.ts');
