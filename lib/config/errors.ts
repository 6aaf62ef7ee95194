/** One thing wrong with the configuration: the key, the value received, and a sentence with the rule and the fix. */
export interface ConfigProblem {
  readonly key: string;
  readonly value: unknown;
  readonly message: string;
}

/** Thrown at the boundary when input is invalid; carries every problem found, not just the first. */
export class ConfigError extends Error {
  constructor(public readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.key}: ${p.message} (received ${JSON.stringify(p.value)})`;
}
