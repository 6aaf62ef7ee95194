#!/usr/bin/env node
// The CDK app (cdk.json "app"): context → validated config → PortsideStack. Nothing else lives here.
import { readFileSync } from 'node:fs';
import { Annotations, App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_KEYS, ConfigError, formatProblem, loadConfig, PortsideConfig } from '../lib/config';
import { DEFAULT_STACK_NAME, LegacyServer, legacyServerFromTemplate, PortsideStack, SAVE_DEPLOYED_TEMPLATE } from '../lib/stack';

const app = new App();

let config: PortsideConfig;
try {
  config = loadConfig((key) => app.node.tryGetContext(key));
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  for (const problem of e.problems) console.error(`portside: ${formatProblem(problem)}`);
  console.error(`portside: fix the value(s) above in cdk.json or with -c key=value (keys: ${CONTEXT_KEYS.join(', ')})`);
  process.exit(1);
}

for (const warning of config.warnings) console.error(`portside: warning: ${warning}`);

// Not a server setting: a deliberate "replace my server with a fresh image" knob (README: "The image is pinned").
const imageGeneration = app.node.tryGetContext('imageGeneration');
// Not a server setting either: the upgrade of a stack deployed by a Portside from before the UserData stub
// (docs/aws.md, "Upgrading a stack deployed with an older Portside").
const legacyTemplate = app.node.tryGetContext('legacyTemplate');
let stack: PortsideStack;
try {
  stack = new PortsideStack(app, DEFAULT_STACK_NAME, {
    config,
    imageGeneration: imageGeneration === undefined ? undefined : Number(imageGeneration),
    legacyServer: legacyTemplate === undefined ? undefined : readLegacyServer(String(legacyTemplate)),
  });
} catch (e) {
  // The constructs validate their props too (e.g. never SSH from the whole internet): one line, no trace.
  console.error(`portside: ${(e as Error).message}`);
  process.exit(1);
}
for (const warning of config.warnings) Annotations.of(stack).addWarningV2('portside:config', warning);

// Every synth runs the AwsSolutions checks; an unacknowledged finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

function readLegacyServer(file: string): LegacyServer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`legacyTemplate: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); save the deployed template first: ${SAVE_DEPLOYED_TEMPLATE}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`legacyTemplate: ${file} is not JSON; save the deployed template with: ${SAVE_DEPLOYED_TEMPLATE}`);
  }
  return legacyServerFromTemplate(json, file);
}
