import type { SshSession } from '../ssh';
import { PROBE_PORT_MAX, PROBE_PORT_MIN } from '../remote/layout';

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

/**
 * What adopt and undo do on the server, each one argv through the one quoting function: pm2 and Node
 * by the full paths the plan found (nvm's Node is off a non-interactive PATH), files written from stdin.
 */
export class AdoptServer {
  constructor(readonly ssh: SshSession, readonly node: string, readonly pm2Bin: string, readonly caddy: string) {}

  /** pm2 with the Node its daemon runs on. */
  async pm2(...args: string[]): Promise<string> {
    return (await this.ssh.run([this.node, this.pm2Bin, ...args], { timeoutMs: TIMEOUT_MS })).stdout;
  }

  /** A fixed shell script; every variable is a positional parameter, never spliced in. */
  async sh(script: string, args: readonly string[] = [], stdin?: string | Buffer): Promise<string> {
    return (await this.ssh.run(['sh', '-c', script, 'sh', ...args], { timeoutMs: TIMEOUT_MS, ...(stdin !== undefined ? { stdin } : {}) })).stdout;
  }

  /** Write a file by rename (its folder made first): a reader sees the old text or the new. */
  async writeFile(path: string, text: string): Promise<void> {
    await this.sh('set -e; mkdir -p "${1%/*}"; cat > "$1.tmp-adopt"; mv -f "$1.tmp-adopt" "$1"', [path], text);
  }

  /** Rewrite a file in place (its folder may not be writable, as /etc/caddy is not for ubuntu); same inode, owner and mode. */
  async writeInPlace(path: string, bytes: string | Buffer): Promise<void> {
    await this.sh('cat > "$1"', [path], bytes);
  }

  /** A graceful reload through Caddy's admin API (never a restart); Caddy keeps its old config when it refuses. */
  async reloadCaddy(file: string): Promise<void> {
    await this.ssh.run([this.caddy, 'reload', '--adapter', 'caddyfile', '--config', file], { timeoutMs: TIMEOUT_MS });
  }

  async waitForHttp(port: number, ms = 15_000): Promise<void> {
    await this.ssh.run([this.node, '-e', WAIT_SCRIPT, String(port), String(ms)], { timeoutMs: ms + TIMEOUT_MS });
  }

  /** Free ports of the dynamic range (PROBE_PORT_MIN–MAX): never a service's port. */
  async freePorts(n: number): Promise<number[]> {
    if (n === 0) return [];
    const out = await this.ssh.run([this.node, '-e', FREE_PORTS_SCRIPT, String(n), String(PROBE_PORT_MIN), String(PROBE_PORT_MAX)], { timeoutMs: TIMEOUT_MS });
    return out.stdout.trim().split(/\s+/).map(Number);
  }

  /** Start one pm2 app from a definition file written first (pm2 keeps the file's options). */
  async pm2StartApp(file: string, app: object): Promise<void> {
    await this.writeFile(file, JSON.stringify({ apps: [app] }, null, 2) + '\n');
    await this.pm2('start', file);
  }
}

/** Let requests already in flight on the old route finish before its process stops (Caddy's reload has returned). */
export const SETTLE_MS = 1000;
export const settle = (ms = SETTLE_MS): Promise<void> => new Promise((r) => setTimeout(r, ms));
