import { ListeningSocket } from './types';

/**
 * Parse `ss -ltnp` (with or without its header line) into listening sockets. Addresses lose their
 * brackets and interface suffix (`[::1]:2019` → `::1`, `127.0.0.53%lo:53` → `127.0.0.53`).
 */
export function parseSs(text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] !== 'LISTEN' || cols.length < 4) continue;
    const local = cols[3];
    const i = local.lastIndexOf(':');
    const port = Number(local.slice(i + 1));
    if (i < 0 || !Number.isInteger(port)) continue;
    const address = local.slice(0, i).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const users = line.slice(line.indexOf('users:') >= 0 ? line.indexOf('users:') : line.length);
    const processes = [...new Set([...users.matchAll(/\("([^"]*)"/g)].map((m) => m[1]))];
    const pids = [...new Set([...users.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
    out.push({ address, port, processes, pids });
  }
  return out;
}
