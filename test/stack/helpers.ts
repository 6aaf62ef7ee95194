import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BOOTSTRAP_METADATA_KEY } from '../../lib/bootstrap';
import { ContextKey, loadConfig, PortsideConfig } from '../../lib/config';
import { DEFAULT_STACK_NAME, PortsideStack, readUpgradeGuardHandler } from '../../lib/stack';

/** A valid baseline context (cdk.json's defaults); tests change one field at a time. */
export const BASE_CONTEXT: Readonly<Partial<Record<ContextKey, unknown>>> = {
  schoolCidr: '128.187.0.0/16',
  routing: 'subdomain',
  services: { simon: 3000, startup: 4000 },
  instanceType: 't3.micro',
};

export function configOf(overrides: Partial<Record<ContextKey, unknown>> = {}): PortsideConfig {
  const ctx: Record<string, unknown> = { ...BASE_CONTEXT, ...overrides };
  return loadConfig((key) => ctx[key]);
}

/** The folder of this test file's cloud assemblies, removed after its last test. */
let assemblies: string | undefined;
if (typeof afterAll === 'function') {
  afterAll(() => {
    if (assemblies) rmSync(assemblies, { recursive: true, force: true });
    assemblies = undefined;
  });
}

/**
 * An App whose cloud assembly goes to a folder of its own under `assemblies`: an App without an outdir
 * makes a cdk.out* folder in the system's temporary folder, which nothing removes.
 */
export function newApp(): App {
  assemblies ??= mkdtempSync(join(tmpdir(), 'portside-stack-test-'));
  return new App({ outdir: mkdtempSync(join(assemblies, 'cdk.out-')) });
}

export function stackOf(overrides: Partial<Record<ContextKey, unknown>> = {}, imageGeneration?: number, bootstrapScript?: string): PortsideStack {
  return new PortsideStack(newApp(), DEFAULT_STACK_NAME, { config: configOf(overrides), imageGeneration, bootstrapScript });
}

export function templateOf(overrides: Partial<Record<ContextKey, unknown>> = {}): Template {
  return Template.fromStack(stackOf(overrides));
}

/**
 * The template as JSON with volatile values (asset hashes, CDK versions) replaced by placeholders, and the
 * bootstrap script (pinned by its own tests) shown as a placeholder so a snapshot diff shows the stack.
 */
export function normalisedTemplate(template: Template): unknown {
  const text = JSON.stringify(template.toJSON())
    .replace(/[0-9a-f]{64}(\.zip)?/g, (_m, zip: string | undefined) => `<asset-hash>${zip ?? ''}`);
  const json = JSON.parse(text);
  delete json.Resources?.CDKMetadata;
  for (const resource of Object.values<any>(json.Resources ?? {})) {
    const boot = resource.Metadata?.[BOOTSTRAP_METADATA_KEY];
    if (boot?.script) boot.script = '<assets/bootstrap.sh>';
    // The upgrade guard's handler, tested on its own (test/stack/upgrade-guard.test.ts).
    if (resource.Properties?.Code?.ZipFile === readUpgradeGuardHandler()) resource.Properties.Code.ZipFile = '<lib/stack/upgrade-guard.py>';
  }
  return json;
}

/** The single resource of a type, with its logical ID. */
export function onlyResource(template: Template, type: string): { id: string; resource: any } {
  const found = Object.entries(template.findResources(type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return { id: found[0][0], resource: found[0][1] };
}
