/**
 * The first look at a server: one fixed shell script (no user input in it) that reports where
 * Caddy, Node and pm2 are, one `key=value` line each, and its pure parser. A non-interactive SSH
 * session reads no profile, so on a course server (Node from nvm) `node` and `pm2` are not on the
 * PATH: the script looks where nvm and pm2's daemon put them.
 */

/** Caddy's command line uses this between arguments (a NUL in /proc/<pid>/cmdline cannot cross `sh`). */
const ARG_SEPARATOR = '\u001f';

export const DISCOVER_SCRIPT = `
echo "user=$(id -un)"
echo "home=$HOME"
for t in caddy node pm2; do printf 'which.%s=%s\\n' "$t" "$(command -v "$t" 2>/dev/null)"; done
for p in /proc/[0-9]*; do
  [ "$(cat "$p/comm" 2>/dev/null)" = caddy ] || continue
  [ -s "$p/cmdline" ] || [ -n "$(head -c 1 "$p/cmdline" 2>/dev/null)" ] || continue  # a zombie has no command line
  printf 'caddy.%s=' "\${p#/proc/}"; tr '\\000' '\\037' < "$p/cmdline" 2>/dev/null; echo
done
f="\${PM2_HOME:-$HOME/.pm2}/pm2.pid"
if [ -r "$f" ]; then
  pid=$(cat "$f")
  if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
    echo "pm2.daemon=$pid"
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
    echo "pm2.exe=$exe"
    bin="\${exe% (deleted)}"; bin="\${bin%/*}"
    [ -f "$bin/pm2" ] && echo "pm2.bin=$bin/pm2"
    [ -f "$bin/../lib/node_modules/pm2/bin/pm2" ] && echo "pm2.lib=$bin/../lib/node_modules/pm2/bin/pm2"
  fi
fi
[ -r "$HOME/.nvm/alias/default" ] && echo "nvm.default=$(cat "$HOME/.nvm/alias/default")"
for n in "$HOME"/.nvm/versions/node/*/bin/node; do [ -x "$n" ] && echo "nvm.node=$n"; done
for n in "$HOME"/.nvm/versions/node/*/bin/pm2; do [ -e "$n" ] && echo "nvm.pm2=$n"; done
command -v systemctl >/dev/null 2>&1 && echo "systemd.caddy=$(systemctl show -p ExecStart --value caddy 2>/dev/null | head -1)"
for d in "$HOME"/services/*/; do [ -d "$d" ] && { d="\${d%/}"; echo "service=\${d##*/}"; }; done
[ -e "$HOME/public_html" ] && echo "public_html=$(readlink -f "$HOME/public_html")"
exit 0
`;

/** What the discovery script reported. */
export interface Discovery {
  readonly user: string;
  readonly home: string;
  readonly which: { readonly caddy: string | null; readonly node: string | null; readonly pm2: string | null };
  readonly caddyProcesses: ReadonlyArray<{ pid: number; argv: string[] }>;
  readonly pm2: { readonly daemonPid: number | null; readonly exe: string | null; readonly bin: string | null };
  readonly nvm: { readonly defaultAlias: string | null; readonly nodes: readonly string[]; readonly pm2s: readonly string[] };
  /** ExecStart of caddy.service as systemd shows it (`{ path=… ; argv[]=… }`), or null. */
  readonly systemdCaddy: string | null;
  readonly serviceFolders: readonly string[];
  readonly publicHtml: string | null;
}

/** Parse the discovery script's output (pure). */
export function parseDiscovery(text: string): Discovery {
  const one = new Map<string, string>();
  const many = new Map<string, string[]>();
  const caddyProcesses: Array<{ pid: number; argv: string[] }> = [];
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const caddy = /^caddy\.(\d+)$/.exec(key);
    if (caddy) {
      caddyProcesses.push({ pid: Number(caddy[1]), argv: value.split(ARG_SEPARATOR).filter((a, i, all) => a !== '' || i < all.length - 1) });
    } else if (key === 'nvm.node' || key === 'nvm.pm2' || key === 'service') {
      many.set(key, [...(many.get(key) ?? []), value]);
    } else {
      one.set(key, value);
    }
  }
  const get = (key: string): string | null => one.get(key) || null;
  const pid = Number(get('pm2.daemon'));
  return {
    user: get('user') ?? '',
    home: get('home') ?? '',
    which: { caddy: get('which.caddy'), node: get('which.node'), pm2: get('which.pm2') },
    caddyProcesses,
    pm2: { daemonPid: Number.isInteger(pid) && pid > 0 ? pid : null, exe: get('pm2.exe')?.replace(/ \(deleted\)$/, '') ?? null, bin: get('pm2.bin') ?? get('pm2.lib') },
    nvm: { defaultAlias: get('nvm.default'), nodes: many.get('nvm.node') ?? [], pm2s: many.get('nvm.pm2') ?? [] },
    systemdCaddy: get('systemd.caddy'),
    serviceFolders: (many.get('service') ?? []).sort(),
    publicHtml: get('public_html'),
  };
}

/**
 * The Node pm2 really uses: its daemon's executable when it runs; otherwise nvm's default version,
 * the newest nvm version, or the PATH's node (a system Node). Pure.
 */
export function pickNode(d: Discovery): { path: string | null; how: string } {
  if (d.pm2.exe) return { path: d.pm2.exe, how: `the pm2 daemon's executable (pid ${d.pm2.daemonPid})` };
  const alias = d.nvm.defaultAlias?.trim();
  const byAlias = alias ? d.nvm.nodes.find((n) => n.includes(`/versions/node/${alias.startsWith('v') ? alias : `v${alias}`}`)) : undefined;
  if (byAlias) return { path: byAlias, how: `nvm's default (${alias})` };
  if (d.nvm.nodes.length) return { path: [...d.nvm.nodes].sort(compareVersionPaths).at(-1)!, how: 'the newest Node under ~/.nvm' };
  if (d.which.node) return { path: d.which.node, how: 'the PATH of a non-interactive SSH session' };
  return { path: null, how: 'no node found (not in ~/.nvm, not on the PATH, no pm2 daemon running)' };
}

function compareVersionPaths(a: string, b: string): number {
  const v = (p: string) => (/\/v(\d+)\.(\d+)\.(\d+)\//.exec(p) ?? []).slice(1).map(Number);
  const [x, y] = [v(a), v(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** The pm2 CLI to run with that Node: beside the daemon's node, else nvm's, else the PATH's. */
export function pickPm2(d: Discovery, node: string | null): string | null {
  if (d.pm2.bin) return d.pm2.bin;
  const beside = node?.replace(/\/node$/, '/pm2');
  if (beside && d.nvm.pm2s.includes(beside)) return beside;
  // pm2 installed under nvm's Node is only found by an interactive shell; the PATH's is a system install.
  return d.which.pm2;
}
