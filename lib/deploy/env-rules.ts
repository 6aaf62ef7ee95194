// Pure and dependency-free: the preload every service runs with (lib/agent/preload.ts, through
// service-env.ts) loads env files with this very function, so the CLI's check and the server's loader
// cannot drift.

/** One line of an env file, trimmed: `NAME=value` or `export NAME=value`; group 1 the name, group 2 the value. */
export const ENV_LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;

/** The lines of an env file, trimmed, with their numbers; blank lines and `#` comments left out. */
function contentLines(text: string): Array<{ text: string; line: number }> {
  return text.split(/\r?\n/).map((raw, i) => ({ text: raw.trim(), line: i + 1 })).filter((l) => l.text && !l.text.startsWith('#'));
}

/** The numbers of the lines that are neither blank, a comment, nor a pair (the loader would skip them). */
export function envLineProblems(text: string): number[] {
  return contentLines(text).filter((l) => !ENV_LINE.test(l.text)).map((l) => l.line);
}

/**
 * The one rule for a service's env file, used by the CLI's check and the server's loader alike:
 * - a line is `NAME=value` or `export NAME=value`; blank lines and lines starting with `#` are skipped;
 * - spaces around the name, the `=` and the value are dropped;
 * - a value wrapped in one matching pair of quotes ('…' or "…") loses that pair, and nothing else happens:
 *   no escapes (`\n` stays a backslash and an n), no `$NAME` expansion, no inline comments.
 */
export function parseEnvText(text: string): Array<{ key: string; value: string; line: number }> {
  const out: Array<{ key: string; value: string; line: number }> = [];
  contentLines(text).forEach(({ text: line, line: n }) => {
    const m = ENV_LINE.exec(line);
    if (!m) return;
    let value = m[2];
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    out.push({ key: m[1], value, line: n });
  });
  return out;
}

/**
 * Names an env file cannot give the service, and why: Portside or pm2 set them before the file is read,
 * and the file never overrides what is already set.
 */
export const RESERVED_ENV: Readonly<Record<string, string>> = {
  PATH: 'pm2 sets the service\'s PATH',
  PORT: 'Portside gives the service its port (deploy-service <name> <port> changes it)',
  NODE_ENV: 'Portside runs every service with NODE_ENV=production',
  NODE_OPTIONS: 'Node reads it when it starts, before the env file is loaded (and Portside uses it to load its preload)',
};

/** Problems with an env file's names, by line: reserved names and names given twice. Never shows a value. */
export function envKeyProblems(text: string): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const { key, line } of parseEnvText(text)) {
    const why = RESERVED_ENV[key] ?? (key.startsWith('PORTSIDE_') ? 'names starting with PORTSIDE_ are Portside\'s own' : undefined);
    if (why) problems.push(`line ${line} sets ${key}, which the service cannot get from an env file: ${why}. Remove the line.`);
    const first = seen.get(key);
    if (first !== undefined) problems.push(`line ${line} sets ${key} again (first on line ${first}): keep one.`);
    else seen.set(key, line);
  }
  return problems;
}
