import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ContextKey, CONTEXT_KEYS } from './portside-config';
import { ContextReader } from './load-config';

/**
 * The CLI's view of CDK context: cdk.json's "context" overlaid with `-c key=value` pairs, the same
 * precedence `cdk synth` uses, so `portside caddyfile` prints what the stack would build.
 */
export function contextFromCdkJson(dir: string, overrides: Readonly<Record<string, string>>): ContextReader {
  const file = join(dir, 'cdk.json');
  const base: Record<string, unknown> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).context ?? {}) : {};
  return (key: ContextKey) => (key in overrides ? overrides[key] : base[key]);
}

/** Parse repeated `-c key=value` / `--context key=value` flags; unknown keys are an error, not silence. */
export function parseContextFlags(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    const key = i < 0 ? pair : pair.slice(0, i);
    if (i < 0) throw new Error(`-c ${pair}: context is key=value, e.g. -c domain=example.click`);
    if (!(CONTEXT_KEYS as readonly string[]).includes(key)) {
      throw new Error(`-c ${pair}: unknown context key "${key}"; Portside reads ${CONTEXT_KEYS.join(', ')}`);
    }
    out[key] = pair.slice(i + 1);
  }
  return out;
}
