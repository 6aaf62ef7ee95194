import type { Pm2Process } from './facts';

/**
 * Parse `pm2 jlist` (pure). pm2 may print notices before the JSON (an in-memory/local version
 * mismatch; "[PM2] …" lines that also start with `[`), so the list is the last line that parses as an array.
 */
export function parsePm2List(stdout: string): Pm2Process[] {
  const list = stdout.split('\n').reverse().map(arrayOrNull).find((x) => x !== null);
  if (!list) throw new Error(`pm2 jlist printed no list: ${JSON.stringify(stdout.slice(0, 200))}`);
  return list.map((p) => {
    const env = (p.pm2_env ?? {}) as Record<string, unknown>;
    const inner = (env.env ?? {}) as Record<string, unknown>;
    const port = Number(inner.PORT ?? env.PORT);
    const args = Array.isArray(env.args) ? env.args.map(String) : typeof env.args === 'string' ? env.args.split(/\s+/).filter(Boolean) : [];
    return {
      name: String(p.name),
      pmId: Number(p.pm_id),
      pid: typeof p.pid === 'number' && p.pid > 0 ? p.pid : null,
      status: String(env.status ?? 'unknown'),
      execMode: String(env.exec_mode ?? 'fork_mode').replace(/_mode$/, ''),
      script: typeof env.pm_exec_path === 'string' ? env.pm_exec_path : null,
      cwd: typeof env.pm_cwd === 'string' ? env.pm_cwd : null,
      args,
      envPort: Number.isInteger(port) && port > 0 ? port : null,
      interpreter: typeof env.exec_interpreter === 'string' ? env.exec_interpreter : null,
    };
  });
}

function arrayOrNull(line: string): Array<Record<string, unknown>> | null {
  if (!line.trim().startsWith('[')) return null;
  try {
    const x = JSON.parse(line) as unknown;
    return Array.isArray(x) ? (x as Array<Record<string, unknown>>) : null;
  } catch {
    return null;
  }
}
