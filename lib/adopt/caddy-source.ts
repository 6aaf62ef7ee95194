import type { CaddyConfigSource } from './facts';

/**
 * The file a running Caddy was started with (pure): its `--config` (and `--adapter`) from the
 * process's command line; else caddy.service's ExecStart; else none. Caddy infers the Caddyfile
 * adapter from a file name starting with "Caddyfile"; any other file without `--adapter` is JSON.
 */
export function caddyConfigSource(processes: ReadonlyArray<{ pid: number; argv: readonly string[] }>, systemdExecStart: string | null): CaddyConfigSource | null {
  for (const p of processes) {
    const found = fromArgv(p.argv);
    if (found) return { ...found, how: `the running Caddy's command line (pid ${p.pid}: ${p.argv.join(' ')})` };
  }
  const unitArgv = systemdExecStart ? /argv\[\]=([^;]*)/.exec(systemdExecStart)?.[1]?.trim().split(/\s+/) : undefined;
  const fromUnit = unitArgv ? fromArgv(unitArgv) : undefined;
  if (fromUnit) return { ...fromUnit, how: `caddy.service's ExecStart (${unitArgv!.join(' ')})` };
  return null;
}

function fromArgv(argv: readonly string[]): { file: string; adapter: string | null } | undefined {
  const value = (flag: string): string | undefined => {
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === flag || argv[i] === `-${flag}`) return argv[i + 1];
      for (const prefix of [`${flag}=`, `-${flag}=`]) if (argv[i].startsWith(prefix)) return argv[i].slice(prefix.length);
    }
    return undefined;
  };
  const file = value('--config');
  if (!file) return undefined;
  const adapter = value('--adapter') ?? (/^Caddyfile/.test(file.split('/').pop() ?? '') ? 'caddyfile' : null);
  return { file, adapter };
}
