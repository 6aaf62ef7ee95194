import { parseSs } from '../doctor/parse-ss';
import type { SshSession } from '../ssh';
import { sitesOf } from './caddy-config';
import { CADDY_DEFAULT_ROOT, parseRootFacts, PortsideRootFacts, READ_SCRIPT } from './caddy-reach';
import { caddyConfigSource } from './caddy-source';
import { Discovery, DISCOVER_SCRIPT, parseDiscovery, pickNode, pickPm2 } from './discover';
import { ServerFacts, Unread, unread } from './facts';
import { parsePm2List } from './pm2-list';

const TIMEOUT_MS = 30_000;

/** Caddy's admin API answers on loopback only: asked from the server, with the Node pm2 uses (curl may be missing). */
const RUNNING_CONFIG_SCRIPT = `require('http').get('http://localhost:2019/config/', (r) => { let b = ''; r.on('data', (c) => { b += c; });
r.on('end', () => { if (r.statusCode !== 200) { console.error('admin API answered ' + r.statusCode + ': ' + b.trim()); process.exit(1); } process.stdout.write(b); }); })
.on('error', (e) => { console.error('admin API: ' + e.message); process.exit(1); });`;

/**
 * Read a server as it is, over SSH, changing nothing: where Caddy, Node and pm2 are (one script),
 * then the file Caddy was started with, `caddy adapt` of it, the configuration Caddy runs (admin
 * API), `pm2 jlist` with the Node the daemon runs on (only when the daemon runs: asking a stopped
 * pm2 would start one), and the listening sockets. Every argv goes through the one quoting function.
 */
export async function readServer(ssh: SshSession): Promise<ServerFacts> {
  const d = parseDiscovery((await ssh.run(['sh', '-c', DISCOVER_SCRIPT], { timeoutMs: TIMEOUT_MS })).stdout);
  const node = pickNode(d);
  const pm2Bin = pickPm2(d, node.path);
  const binary = d.caddyProcesses.map((p) => p.argv[0]).find((a) => a?.startsWith('/')) ?? d.which.caddy;
  const source = caddyConfigSource(d.caddyProcesses, d.systemdCaddy);
  const [text, adapted, running, processes, sockets] = await Promise.all([
    source ? output(ssh, ['cat', '--', source.file!]) : null,
    source && binary ? adapt(ssh, binary, source.file!, source.adapter) : null,
    node.path && d.caddyProcesses.length ? output(ssh, [node.path, '-e', RUNNING_CONFIG_SCRIPT]).then(json) : null,
    d.pm2.daemonPid && node.path && pm2Bin ? output(ssh, [node.path, pm2Bin, 'jlist']).then((r) => (typeof r === 'string' ? parsePm2List(r) : r)).catch(asUnread) : null,
    output(ssh, ['ss', '-ltnpH']).then((r) => (typeof r === 'string' ? parseSs(r) : r)),
  ]);
  const portsideRoots = await readRoots(ssh, d.caddyProcesses[0]?.pid ?? null, adapted);
  return {
    user: d.user, home: d.home,
    caddy: { binary, processes: d.caddyProcesses, source, text, adapted, running },
    node: { ...node, onPath: d.which.node !== null },
    pm2: { bin: pm2Bin, daemonPid: d.pm2.daemonPid, processes },
    sockets, serviceFolders: d.serviceFolders, publicHtml: d.publicHtml, portsideRoots,
  };
}

/** Caddy's user and the folders that could hold Portside's Caddyfile: each absolute root a site serves, and Caddy's default root. */
async function readRoots(ssh: SshSession, caddyPid: number | null, adapted: unknown): Promise<PortsideRootFacts | Unread> {
  const roots = sitesOf(unread(adapted) ? null : adapted).map((s) => s.root?.replace(/\/+$/, '')).filter((r): r is string => !!r && r.startsWith('/'));
  const r = await output(ssh, ['sh', '-c', READ_SCRIPT, 'read-roots', String(caddyPid ?? ''), ...new Set([...roots, CADDY_DEFAULT_ROOT])]);
  return typeof r === 'string' ? parseRootFacts(r) : r;
}

/** stdout of a command, or what went wrong (its last line of stderr). */
async function output(ssh: SshSession, argv: readonly string[]): Promise<string | Unread> {
  const r = await ssh.exec(argv, { timeoutMs: TIMEOUT_MS });
  if (r.code === 0) return r.stdout;
  return { error: `\`${argv.slice(0, 3).join(' ')}\` exited with ${r.code}: ${lastLine(r.stderr) || lastLine(r.stdout) || '(no output)'}` };
}

async function adapt(ssh: SshSession, binary: string, file: string, adapter: string | null): Promise<unknown> {
  if (!adapter) return json(await output(ssh, ['cat', '--', file]));
  const r = await ssh.exec([binary, 'adapt', '--config', file, '--adapter', adapter], { timeoutMs: TIMEOUT_MS });
  if (r.code !== 0) {
    // Caddy logs JSON lines first; its own verdict is the line starting "Error:".
    const verdict = r.stderr.split('\n').reverse().find((l) => l.startsWith('Error:')) ?? lastLine(r.stderr);
    return { error: verdict.replace(/^Error:\s*/, '') || `caddy adapt exited with ${r.code}` };
  }
  return json(r.stdout);
}

function json(r: string | Unread): unknown {
  if (typeof r !== 'string') return r;
  try {
    return JSON.parse(r);
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
}

function asUnread(e: unknown): Unread {
  return { error: (e as Error).message };
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

export type { Discovery };
