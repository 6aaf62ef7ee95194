import { UserError } from '../errors';
import type { SshSession } from '../ssh';
import { RemoteCommandError } from '../ssh/errors';
import { EPHEMERAL_RANGE_FILE, parseEphemeralRange, probeRange } from '../ports/probe-range';

/**
 * Where adopt's commands run: an SSH session from the laptop, or LocalCommands (on-server/) in the
 * adopt run on the server itself. Both take argv and give { stdout, stderr, code }.
 */
export type ServerCommands = Pick<SshSession, 'exec' | 'run'>;

const TIMEOUT_MS = 60_000;

/** Wait until 127.0.0.1:<port> answers HTTP (any status), polling every 50 ms; exit 1 after <ms>. Run with the server's Node. */
const WAIT_SCRIPT = `const [port, ms] = process.argv.slice(1).map(Number); const end = Date.now() + ms;
(function ask() { require('http').get({ host: '127.0.0.1', port, path: '/', timeout: 2000, headers: { 'user-agent': 'portside-adopt' } }, (r) => { r.resume(); process.exit(0); })
  .on('error', () => { if (Date.now() > end) { console.error('nothing answered HTTP on 127.0.0.1:' + port + ' within ' + ms + ' ms'); process.exit(1); } setTimeout(ask, 50); }); })();`;

/** Print <n> distinct free ports of the dynamic range (tried by listening on them). Run with the server's Node. */
const FREE_PORTS_SCRIPT = `const [n, min, max] = process.argv.slice(1).map(Number); const net = require('net'); const got = new Set();
(function next(tries) { if (got.size === n) { console.log([...got].join(' ')); return; } if (tries > 200) { console.error('no free port in ' + min + '-' + max); process.exit(1); }
  const p = min + Math.floor(Math.random() * (max - min + 1)); if (got.has(p)) return next(tries + 1);
  const s = net.createServer(); s.once('error', () => next(tries + 1)); s.listen(p, '127.0.0.1', () => s.close(() => { got.add(p); next(tries + 1); })); })(0);`;

/** `cd "$1"`, then run the rest; OLDPWD stays what the environment gave (cd would set it, and pm2 passes it on). */
const PM2_IN_FOLDER = 'o=${OLDPWD-}; u=${OLDPWD+set}; cd -- "$1" || exit; shift; if [ -n "$u" ]; then OLDPWD=$o; export OLDPWD; else unset OLDPWD; fi; exec "$@"';

/**
 * What adopt and undo do on the server, each one argv (over SSH through the one quoting function, or
 * spawned directly on the server): pm2 and Node by the full paths the plan found (nvm's Node is off a
 * non-interactive PATH), files written from stdin.
 */
export class AdoptServer {
  constructor(readonly cmd: ServerCommands, readonly node: string, readonly pm2Bin: string, readonly caddy: string) {}

  /** pm2 with the Node its daemon runs on. */
  async pm2(...args: string[]): Promise<string> {
    return (await this.cmd.run([this.node, this.pm2Bin, ...args], { timeoutMs: TIMEOUT_MS })).stdout;
  }

  /** pm2 run in `cwd` with exactly `env` as its environment (`env -i`): what a process it starts inherits from the pm2 command. */
  async pm2With(env: Readonly<Record<string, string>>, cwd: string, ...args: string[]): Promise<string> {
    const pairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return (await this.cmd.run(['env', '-i', ...pairs, 'sh', '-c', PM2_IN_FOLDER, 'sh', cwd, this.node, this.pm2Bin, ...args], { timeoutMs: TIMEOUT_MS })).stdout;
  }

  /** A fixed shell script; every variable is a positional parameter, never spliced in. */
  async sh(script: string, args: readonly string[] = [], stdin?: string | Buffer): Promise<string> {
    return (await this.cmd.run(['sh', '-c', script, 'sh', ...args], { timeoutMs: TIMEOUT_MS, ...(stdin !== undefined ? { stdin } : {}) })).stdout;
  }

  /** Write a file by rename (its folder made first): a reader sees the old text or the new. */
  async writeFile(path: string, text: string): Promise<void> {
    await this.sh('set -e; mkdir -p "${1%/*}"; cat > "$1.tmp-adopt"; mv -f "$1.tmp-adopt" "$1"', [path], text);
  }

  /** Rewrite a file in place (its folder may not be writable, as /etc/caddy is not for ubuntu); same inode, owner and mode. */
  async writeInPlace(path: string, bytes: string | Buffer): Promise<void> {
    await this.sh('cat > "$1"', [path], bytes);
  }

  /**
   * A graceful reload through Caddy's admin API (never a restart). Caddy keeps its old config when it
   * refuses one: the error says so, with Caddy's own reason.
   */
  async reloadCaddy(file: string): Promise<void> {
    try {
      await this.cmd.run([this.caddy, 'reload', '--adapter', 'caddyfile', '--config', file], { timeoutMs: TIMEOUT_MS });
    } catch (e) {
      if (!(e instanceof RemoteCommandError)) throw e;
      throw new UserError(`Caddy refused the configuration in ${file} and kept running the one it had: ${caddyReason(e.stderr || e.stdout)}`,
        'Fix what Caddy names (in the Caddyfile adopt reads, or the directive it keeps verbatim), then run the command again.');
    }
  }

  async waitForHttp(port: number, ms = 15_000): Promise<void> {
    await this.cmd.run([this.node, '-e', WAIT_SCRIPT, String(port), String(ms)], { timeoutMs: ms + TIMEOUT_MS });
  }

  /** Free ports of the dynamic range outside the server's ephemeral range (lib/ports/probe-range.ts): never a service's port. */
  async freePorts(n: number): Promise<number[]> {
    if (n === 0) return [];
    const range = probeRange(await this.cmd.run(['cat', EPHEMERAL_RANGE_FILE], { timeoutMs: TIMEOUT_MS }).then((r) => parseEphemeralRange(r.stdout), () => null));
    const out = await this.cmd.run([this.node, '-e', FREE_PORTS_SCRIPT, String(n), String(range.min), String(range.max)], { timeoutMs: TIMEOUT_MS });
    return out.stdout.trim().split(/\s+/).map(Number);
  }

  /** Start one pm2 app from a definition file written first (pm2 keeps the file's options). */
  async pm2StartApp(file: string, app: object): Promise<void> {
    await this.writeFile(file, JSON.stringify({ apps: [app] }, null, 2) + '\n');
    await this.pm2('start', file);
  }
}

/** Caddy's own words for a refusal: its last `Error:` line (JSON log lines and usage text left out). */
export function caddyReason(output: string): string {
  const lines = output.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const error = [...lines].reverse().find((l) => /^Error:/.test(l)) ?? lines[lines.length - 1] ?? `exit status without a message`;
  return error.replace(/^Error:\s*/, '');
}

/** Let requests already in flight on the old route finish before its process stops (Caddy's reload has returned). */
export const SETTLE_MS = 1000;
export const settle = (ms = SETTLE_MS): Promise<void> => new Promise((r) => setTimeout(r, ms));
