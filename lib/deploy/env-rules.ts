/**
 * The one rule for a service's env file, shared with the server's loader (parseEnv in
 * assets/server/preload.js; test/unit/env-rules.test.ts runs both over the same table):
 * - a line is `NAME=value` or `export NAME=value`; blank lines and lines starting with `#` are skipped;
 * - spaces around the name, the `=` and the value are dropped;
 * - a value wrapped in one matching pair of quotes ('…' or "…") loses that pair, and nothing else happens:
 *   no escapes (`\n` stays a backslash and an n), no `$NAME` expansion, no inline comments.
 */
export function parseEnvText(text: string): Array<{ key: string; value: string; line: number }> {
  const out: Array<{ key: string; value: string; line: number }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) return;
    let value = m[2];
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    out.push({ key: m[1], value, line: i + 1 });
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
