/**
 * Facts fixtures for the doctor's check families: a healthy AWS server with two services and a
 * domain, which each family test changes one thing at a time. Pure data; no server.
 */
import { renderCaddyfile } from '../../lib/caddy';
import { loadConfig } from '../../lib/config';
import type { CheckFamily, CheckResult, DoctorFacts, ListeningSocket } from '../../lib/doctor';
import { parseSs } from '../../lib/doctor/parse-ss';
import { Registry, renderRegistry } from '../../lib/registry';

export const ADDRESS = '203.0.113.7';
export const NOW = new Date('2026-06-01T00:00:00Z');

export const registry: Registry = {
  version: 1, domain: 'example.click', routing: 'subdomain', tls: 'acme', services: { simon: 3000, startup: 4000 },
  paths: { www: '/var/www/portside', caddyfile: '/etc/portside/Caddyfile' },
};

/** What `ss -ltnpH` shows on that server (sshd, Caddy, systemd-resolved, two services under pm2). */
export const SS = `State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
LISTEN 0      4096       127.0.0.1:2019      0.0.0.0:*    users:(("caddy",pid=900,fd=3))
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:(("sshd",pid=800,fd=4))
LISTEN 0      128             [::]:22           [::]:*    users:(("sshd",pid=800,fd=5))
LISTEN 0      4096   127.0.0.53%lo:53        0.0.0.0:*    users:(("systemd-resolve",pid=700,fd=14))
LISTEN 0      511        127.0.0.1:3000      0.0.0.0:*    users:(("PM2 v7.0.4: God",pid=1000,fd=23))
LISTEN 0      511        127.0.0.1:4000      0.0.0.0:*    users:(("PM2 v7.0.4: God",pid=1000,fd=24))
LISTEN 0      4096               *:80              *:*    users:(("caddy",pid=900,fd=9))
LISTEN 0      4096               *:443             *:*    users:(("caddy",pid=900,fd=7))
`;

/** `ss` output with extra lines, or without the lines that contain `drop`. */
export function ss(extra: readonly string[] = [], drop?: string): ListeningSocket[] {
  const lines = SS.split('\n').filter((l) => drop === undefined || !l.includes(drop));
  return parseSs([...lines, ...extra].join('\n'));
}

const declared = loadConfig((k) => ({ schoolCidr: '128.187.0.0/16', domain: 'example.click', services: { simon: 3000, startup: 4000 } } as Record<string, unknown>)[k]);

/** The baseline: every family passes. */
export function healthy(): DoctorFacts {
  return {
    target: 'aws', address: ADDRESS, registryText: renderRegistry(registry), registry, caddyfile: renderCaddyfile(registry), declared,
    pm2: [
      { name: 'simon', status: 'online', port: 3000, pid: 1001, execMode: 'cluster_mode', preload: true },
      { name: 'startup', status: 'online', port: 4000, pid: 1002, execMode: 'cluster_mode', preload: true },
    ],
    folders: [{ name: 'simon', release: 'r1', healthPath: '/' }, { name: 'startup', release: 'r2', healthPath: '/api/health' }],
    outside: [
      { port: 22, outcome: 'open' }, { port: 53, outcome: 'refused' }, { port: 80, outcome: 'open' }, { port: 443, outcome: 'open' },
      { port: 2019, outcome: 'filtered' }, { port: 3000, outcome: 'filtered' }, { port: 4000, outcome: 'filtered' },
    ],
    direct: { simon: 200, startup: 200 },
    viaCaddy: { simon: 200, startup: 200, '@site': 200 },
    sockets: parseSs(SS),
    certificates: ['example.click', 'simon.example.click', 'startup.example.click'].map((host) => ({
      host, validFrom: '2026-05-01T00:00:00Z', validTo: '2026-07-30T00:00:00Z', issuer: 'R11',
    })),
    dns: ['example.click', 'simon.example.click', 'startup.example.click'].map((name) => ({ name, addresses: [ADDRESS] })),
    capacity: { diskFreeBytes: 5 * 2 ** 30, diskTotalBytes: 8 * 2 ** 30, memAvailableBytes: 600 * 2 ** 20, memTotalBytes: 2 ** 30 },
    tools: { node: '/usr/bin/node', npm: '/usr/bin/npm', pm2: '/usr/bin/pm2' },
    securityGroup: [
      ...[80, 443].flatMap((p) => ['0.0.0.0/0', '::/0'].map((peer) => ({ groupId: 'sg-1', protocol: 'tcp', fromPort: p, toPort: p, peer }))),
      { groupId: 'sg-1', protocol: 'tcp', fromPort: 22, toPort: 22, peer: '128.187.0.0/16' },
    ],
    now: NOW,
  };
}

/** The healthy server without a domain: plain HTTP on 80, nothing on 443, no certificates or names. */
export function noDomain(): DoctorFacts {
  const reg: Registry = { ...registry, domain: undefined, routing: 'path' };
  const f = healthy();
  return {
    ...f, registry: reg, registryText: renderRegistry(reg), caddyfile: renderCaddyfile(reg), sockets: ss([], ':443'),
    outside: f.outside.map((p) => (p.port === 443 ? { ...p, outcome: 'refused' as const } : p)), certificates: [], dns: { skipped: 'no domain: nothing to resolve' },
  };
}

/** The facts with the outside probe of one port replaced. */
export function outsideSees(f: DoctorFacts, port: number, outcome: 'open' | 'refused' | 'filtered'): DoctorFacts {
  const others = f.outside.filter((p) => p.port !== port);
  return { ...f, outside: [...others, { port, outcome }].sort((a, b) => a.port - b.port) };
}

/**
 * Run one family; every id it returns carries the family's prefix, and every warning and failure
 * says what to do. Returns the results.
 */
export function run(family: CheckFamily, f: DoctorFacts): CheckResult[] {
  const results = family.run(f);
  for (const r of results) {
    expect(r.id.startsWith(family.idPrefix)).toBe(true);
    if (r.status === 'fail' || r.status === 'warn') expect(r.fix).toBeTruthy();
  }
  return results;
}

/** id → status, for a compact whole-family assertion. */
export const statuses = (results: readonly CheckResult[]): Record<string, string> => Object.fromEntries(results.map((r) => [r.id, r.status]));
/** The results that need attention. */
export const problems = (results: readonly CheckResult[]): CheckResult[] => results.filter((r) => r.status === 'fail' || r.status === 'warn');
export const byId = (results: readonly CheckResult[], id: string): CheckResult | undefined => results.find((r) => r.id === id);
