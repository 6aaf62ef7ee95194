import { RESERVED_PORTS } from '../../ports';
import { CheckResult, DoctorFacts, ListeningSocket, failed } from '../types';
import { hostPort, isLoopback } from './addresses';

/** Loopback listeners that belong to the operating system, not to anyone's mistake. */
const SYSTEM_LOOPBACK: ReadonlyArray<{ port: number; process: RegExp }> = [
  { port: 53, process: /^systemd-resolve/ },
];

const describeHolder = (s: ListeningSocket): string =>
  s.processes.length ? `${s.processes.join(', ')} (pid ${s.pids.join(', ')})` : 'a process this user cannot see';

/** No domain: Caddy serves the site as `:80` only, and 443 stays closed by design. */
export const plainHttpOnly = (f: DoctorFacts): boolean => !failed(f.registry) && !f.registry.domain;

/**
 * What listens on the server (`ss -ltnp`): sshd on 22, Caddy on 80 and 443 and its admin API on
 * loopback 2019, each registered service on its own port on loopback, and nothing else.
 */
export function socketChecks(f: DoctorFacts): CheckResult[] {
  if (failed(f.sockets)) {
    return [{ id: 'sockets.read', status: 'fail', message: `could not list the listening sockets: ${f.sockets.error}`, fix: 'install iproute2 on the server (it provides ss)' }];
  }
  const out: CheckResult[] = [];
  const services = failed(f.registry) ? {} : f.registry.services;
  const byPort = new Map<number, ListeningSocket[]>();
  for (const s of f.sockets) byPort.set(s.port, [...(byPort.get(s.port) ?? []), s]);
  const expectName = (socks: ListeningSocket[], name: RegExp): ListeningSocket | undefined =>
    socks.find((s) => s.processes.length > 0 && !s.processes.some((p) => name.test(p)));

  for (const r of RESERVED_PORTS) {
    const socks = byPort.get(r.port) ?? [];
    const name = r.holder === 'sshd' ? /^sshd/ : /^caddy/;
    if (socks.length === 0 && r.port === 443 && plainHttpOnly(f)) {
      out.push({ id: 'sockets.missing.443', status: 'info', message: 'nothing listens on 443: the server has no domain yet, so Caddy serves plain HTTP on 80 (as documented)',
        fix: 'set a domain (cdk.json "domain", then portside sync-config) to get HTTPS on 443' });
      continue;
    }
    if (socks.length === 0) {
      out.push({
        id: `sockets.missing.${r.port}`, status: r.port === 2019 ? 'warn' : 'fail', message: `nothing listens on port ${r.port} (${r.holder}, ${r.protocol})`,
        fix: r.holder === 'sshd' ? 'start sshd' : 'start Caddy: sudo systemctl restart caddy (and read journalctl -u caddy)',
      });
      continue;
    }
    const stranger = expectName(socks, name);
    if (stranger) {
      out.push({ id: `sockets.holder.${r.port}`, status: 'fail', message: `port ${r.port} should be ${r.holder}'s but ${describeHolder(stranger)} holds it`, fix: `stop that process and restart ${r.holder}` });
      continue;
    }
    const open = socks.filter((s) => !isLoopback(s.address));
    if (r.loopbackOnly && open.length > 0) {
      out.push({
        id: `sockets.public.${r.port}`, status: 'fail', message: `${r.protocol} listens on ${hostPort(open[0].address, r.port)}, beyond loopback: whoever reaches it can rewrite Caddy's configuration`,
        fix: 'bind it to loopback: `admin localhost:2019` in the Caddyfile\'s global options (Caddy\'s default)',
      });
      continue;
    }
    const dup = socks.find((s, i) => socks.findIndex((t) => t.address === s.address) !== i);
    if (dup) {
      const n = socks.filter((s) => s.address === dup.address).length;
      out.push({
        id: `sockets.duplicate.${r.port}`, status: 'fail',
        message: `${r.holder} holds ${n} listening sockets on ${hostPort(dup.address, r.port)}: a refused reload leaked them (Caddy 2.6.2), and new connections are spread across them, so most of them fail`,
        fix: `restart ${r.holder} (sudo systemctl restart ${r.holder === 'sshd' ? 'ssh' : 'caddy'}); a reload cannot close leaked listeners`,
      });
      continue;
    }
    out.push({ id: `sockets.ok.${r.port}`, status: 'pass', message: `${r.holder} listens on ${socks.map((s) => hostPort(s.address, r.port)).join(', ')} (${r.protocol})` });
  }

  for (const [port, socks] of [...byPort].sort(([a], [b]) => a - b)) {
    if (RESERVED_PORTS.some((r) => r.port === port)) continue;
    const owner = Object.entries(services).find(([, p]) => p === port)?.[0];
    const open = socks.filter((s) => !isLoopback(s.address));
    if (owner) {
      if (open.length > 0) {
        out.push({
          id: `sockets.public.${port}`, status: 'fail',
          message: `service "${owner}" listens on ${hostPort(open[0].address, port)} (${describeHolder(open[0])}), not only on 127.0.0.1: it can be reached without Caddy`,
          fix: `redeploy it so pm2 starts it with Portside's preload (which binds it to 127.0.0.1): portside deploy-service ${owner} --force`,
        });
      } else {
        out.push({ id: `sockets.ok.${port}`, status: 'pass', message: `service "${owner}" listens on ${socks.map((s) => hostPort(s.address, port)).join(', ')} only` });
      }
      continue;
    }
    const holder = describeHolder(socks[0]);
    const pm2Name = failed(f.pm2) ? undefined : f.pm2.find((p) => p.port === port)?.name;
    if (open.length === 0 && pm2Name) {
      out.push({ id: `sockets.pm2.${port}`, status: 'info', message: `pm2 process "${pm2Name}" listens on loopback port ${port}, which the registry does not route to (see drift)` });
      continue;
    }
    if (open.length > 0) {
      out.push({
        id: `sockets.unregistered.${port}`, status: 'fail',
        message: `port ${port} listens on ${hostPort(open[0].address, port)} (${describeHolder(open[0])}) and no service is registered on it`,
        fix: `stop it${open[0].pids.length ? ` (kill ${open[0].pids.join(' ')})` : ''}, or deploy it as a service (portside deploy-service <name>) so it gets a loopback port behind Caddy`,
      });
    } else if (SYSTEM_LOOPBACK.some((x) => x.port === port && socks[0].processes.some((p) => x.process.test(p)))) {
      out.push({ id: `sockets.system.${port}`, status: 'pass', message: `${holder} listens on loopback port ${port} (the system's own)` });
    } else if (port >= 49152 && socks.every((s) => s.processes.every((p) => /^(node|PM2)/.test(p)))) {
      out.push({ id: `sockets.transient.${port}`, status: 'info', message: `${holder} listens on loopback port ${port} (dynamic range): most likely a deploy's health probe in progress` });
    } else {
      out.push({
        id: `sockets.unregistered.${port}`, status: 'warn',
        message: `port ${port} is held by ${holder} on ${socks.map((s) => hostPort(s.address, port)).join(', ')} (loopback only), and no service is registered on it`,
        fix: 'not reachable from outside, but not Portside\'s either: stop it, or deploy it as a service so its port is registered',
      });
    }
  }
  return out;
}
