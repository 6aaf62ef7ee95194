import { ConfigError, contextFromCdkJson, loadConfig, parseContextFlags, PortsideConfig } from '../config';
import { UsageError } from '../errors';

/** `-c key=value`, for every command that reads cdk.json (node:util parseArgs options). */
export const CONTEXT_OPTION = { context: { type: 'string', short: 'c', multiple: true } } as const;

/** The help line for CONTEXT_OPTION, the same in every command's usage. */
export const CONTEXT_USAGE = `  -c key=value         override a cdk.json context value, as cdk's own -c does (repeatable)`;

/**
 * A configuration problem in a value the user typed with -c: a usage error (exit 2), unlike the same
 * problem in cdk.json (exit 1, reported by main as an invalid configuration).
 */
export class ContextFlagError extends ConfigError {}

/** The -c pairs as context overrides; a pair that is not key=value or names an unknown key is a usage error. */
export function contextOverrides(pairs: readonly string[] = []): Record<string, string> {
  try {
    return parseContextFlags(pairs);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** cdk.json's context in `cwd` with the -c overrides laid over it, validated. */
export function readConfig(cwd: string, pairs: readonly string[] = []): PortsideConfig {
  const overrides = contextOverrides(pairs);
  try {
    return loadConfig(contextFromCdkJson(cwd, overrides));
  } catch (e) {
    if (e instanceof ConfigError && e.problems.every((p) => topKey(p.key) in overrides)) throw new ContextFlagError(e.problems);
    throw e;
  }
}

/** `services.simon` → `services`: a problem's key names the context key it came from first. */
function topKey(key: string): string {
  return key.split(/[.[]/)[0];
}
