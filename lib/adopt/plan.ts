import { createHash } from 'node:crypto';
import { serviceNameProblem } from '../config/validators';
import type { ListeningSocket } from '../doctor/types';
import { CaddySite, sitesOf } from './caddy-config';
import { Directive, FileBlock, readCaddyfile } from './caddyfile-sites';
import { Pm2Process, ServerFacts, unread } from './facts';
import { AdoptPlan, KeptBlock, PlannedService, Problem, SiteDirectives, StaticSite } from './plan-types';
import { refusalOf } from './refusal';
import { portsideRootOf } from './caddy-reach';
import { byCodeUnits } from '../registry/name-order';

/** What plan building works from: the facts, with what refusalOf guarantees made explicit. */
interface Input {
  readonly facts: ServerFacts;
  readonly sites: readonly CaddySite[];
  readonly blocks: readonly FileBlock[];
  readonly sockets: readonly ListeningSocket[];
  readonly processes: readonly Pm2Process[];
}

/**
 * The adoption plan for a server (pure: facts in, plan out). Every service keeps the port its
 * process really listens on and the names whose site reaches it; the static site keeps its root;
 * what Portside's renderer cannot write is kept verbatim; every problem is named with its fix.
 * @throws Error when the server is one `refusalOf` refuses (check that first)
 */
export function planAdoption(facts: ServerFacts): AdoptPlan {
  const refusal = refusalOf(facts);
  if (refusal) throw new Error(`cannot plan: ${refusal.found}`);
  const text = typeof facts.caddy.text === 'string' && facts.caddy.source?.adapter === 'caddyfile' ? facts.caddy.text : '';
  const input: Input = {
    facts, sites: sitesOf(facts.caddy.adapted), blocks: readCaddyfile(text),
    sockets: unread(facts.sockets) ? [] : facts.sockets, processes: facts.pm2.processes as Pm2Process[],
  };
  const problems: Problem[] = [];
  const staticSite = staticSiteOf(input);
  const domain = staticSite?.hosts[0] ?? null;
  const claimed = new Set<CaddySite>();
  const services = input.processes.map((p) => serviceOf(input, p, domain, claimed, problems));
  problems.push(...siteProblems(input, services, claimed), ...folderProblems(input), ...configProblems(facts));
  const root = portsideRootOf(staticSite?.root ?? null, facts.portsideRoots, facts.user, facts.caddy.source!.file!);
  if (root.root === null) problems.push(root.problem);
  const global = input.blocks.find((b) => b.kind === 'global');
  const email = global?.directives.find((d) => d.name === 'email')?.text.split(/\s+/)[1];
  const internal = !!global?.directives.some((d) => d.name === 'local_certs');
  return {
    server: {
      user: facts.user, home: facts.home,
      caddy: { binary: facts.caddy.binary, pids: facts.caddy.processes.map((p) => p.pid), config: facts.caddy.source! },
      node: { path: facts.node.path!, how: facts.node.how, onPath: facts.node.onPath },
      pm2: { bin: facts.pm2.bin!, daemonPid: facts.pm2.daemonPid! },
    },
    domain, routing: domain ? 'subdomain' : 'path', services, staticSite, portsideRoot: root.root,
    keep: { globalOptions: global?.block.text ?? null, blocks: keptBlocks(input, services, staticSite) },
    problems, notes: notes(facts, services),
    basis: {
      caddyfile: facts.caddy.source!.file!, caddyfileSha256: createHash('sha256').update(String(facts.caddy.text)).digest('hex'),
      pm2: input.processes.map((p) => ({ name: p.name, pid: p.pid })),
    },
    registry: {
      ...(domain ? { domain } : {}), ...(email ? { email } : {}), routing: domain ? 'subdomain' : 'path', tls: internal ? 'internal' : 'acme',
      services: Object.fromEntries(services.filter((s) => !serviceNameProblem(s.name)).map((s) => [s.name, s.port])),
    },
  };
}

/** The site that serves files and proxies nothing: the course's root site. */
function staticSiteOf(input: Input): StaticSite | null {
  // A site of its own on a host name (the course's); else a site that also routes paths to services (`:80`).
  const site = input.sites.find((s) => s.fileServer && s.upstreams.length === 0 && s.shadowedBy === null && s.hosts.length > 0)
    ?? input.sites.find((s) => s.fileServer && s.shadowedBy === null);
  if (!site) return null;
  const block = blockOf(input, site);
  return {
    hosts: site.hosts, root: site.root ?? '.', publicHtml: input.facts.publicHtml, site: block?.block.key ?? null,
    directives: split(block?.directives ?? [], ['root', 'file_server']),
  };
}

/** The Caddyfile block a site came from: the `order`-th block naming one of its hosts (or none, for `:80`). */
function blockOf(input: Input, site: CaddySite): FileBlock | undefined {
  const named = input.blocks.filter((b) => b.kind === 'site' && (site.hosts.length
    ? b.hosts.some((h) => site.hosts.includes(h))
    : b.hosts.every((h) => h === '')));
  return named[site.order];
}

/** Directives Portside writes itself (its proxy, its static site, `-Server` in its headers) and the rest. */
function split(directives: readonly Directive[], rendered: readonly string[]): SiteDirectives {
  const ours = (d: Directive) => rendered.includes(d.name) || (d.name === 'header' && /^header\s+-server\s*$/i.test(d.text.trim()));
  return { portside: directives.filter(ours), kept: directives.filter((d) => !ours(d)) };
}

/** The port a pm2 process listens on: its pid's socket, else its PORT variable, else its first numeric argument. */
function portOf(input: Input, p: Pm2Process): { port: number; from: PlannedService['portFrom']; listen: string[] } | null {
  const held = input.sockets.filter((s) => p.pid !== null && s.pids.includes(p.pid)).sort((a, b) => a.port - b.port);
  if (held.length) return { port: held[0].port, from: 'socket', listen: held.filter((s) => s.port === held[0].port).map((s) => s.address) };
  const fromArgs = p.args.map(Number).find((n) => Number.isInteger(n) && n > 0 && n < 65536);
  const port = p.envPort ?? fromArgs;
  if (!port) return null;
  return { port, from: p.envPort ? 'env' : 'args', listen: input.sockets.filter((s) => s.port === port).map((s) => s.address) };
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

function serviceOf(input: Input, p: Pm2Process, domain: string | null, claimed: Set<CaddySite>, problems: Problem[]): PlannedService {
  const found = portOf(input, p);
  const port = found?.port ?? 0;
  const live = input.sites.filter((s) => s.shadowedBy === null);
  let routed = live.filter((s) => s.upstreams.some((u) => u.port === port));
  if (routed.length === 0) {
    const byName = live.filter((s) => s.upstreams.length > 0 && (s.hosts.some((h) => h.split('.')[0] === p.name) || s.upstreams.some((u) => u.path?.startsWith(`/${p.name}`))));
    for (const s of byName) {
      const wrong = s.upstreams.map((u) => u.dial).join(', ');
      const names = s.hosts.join(', ') || s.upstreams.map((u) => u.path).join(', ');
      problems.push({ kind: 'port-mismatch', service: p.name, port, host: s.hosts[0],
        message: `Caddy sends ${names} to ${wrong}, but pm2's "${p.name}" listens on ${port}`,
        fix: `adopting routes ${names} to ${port}, where "${p.name}" answers; if ${wrong} was meant, restart "${p.name}" there first (pm2 delete ${p.name}, then pm2 start index.js -n ${p.name} -- <port>)` });
    }
    routed = byName;
  }
  routed.forEach((s) => claimed.add(s));
  const block = routed.map((s) => blockOf(input, s)).find(Boolean);
  const hostnames = [...new Set(routed.flatMap((s) => s.hosts))];
  const paths = [...new Set(routed.flatMap((s) => s.upstreams.map((u) => u.path).filter((x): x is string => !!x)))];
  const folder = input.facts.serviceFolders.includes(p.name) ? `${input.facts.home}/services/${p.name}` : p.cwd;
  problems.push(...processProblems(p, found, routed.length > 0, domain, input.facts.outside));
  return {
    name: p.name, port, portFrom: found?.from ?? 'args', folder,
    process: { pmId: p.pmId, pid: p.pid, status: p.status, execMode: p.execMode, script: p.script, args: p.args },
    hostnames, paths, site: block?.block.key ?? null, directives: split(block?.directives ?? [], ['reverse_proxy']), listen: found?.listen ?? [],
  };
}

function exposed(name: string, port: number, addresses: readonly string[], outcome: Problem['outside']): Problem {
  const seen = outcome === 'open' ? `; a connection from here to port ${port} was accepted`
    : outcome ? `; from here port ${port} is ${outcome} (a firewall or security group stops it for now)` : '';
  return {
    kind: 'exposed-port', service: name, port, ...(outcome ? { outside: outcome } : {}),
    message: `"${name}" listens on ${addresses.map((a) => `${a}:${port}`).join(', ')}: reachable without Caddy, from outside the server unless a firewall stops it${seen}`,
    fix: `make it listen on 127.0.0.1 only (app.listen(port, '127.0.0.1')) and close ${port} in the security group; Caddy is the way in`,
  };
}

function processProblems(p: Pm2Process, found: ReturnType<typeof portOf>, routed: boolean, domain: string | null, outside: ServerFacts['outside']): Problem[] {
  const out: Problem[] = [];
  const nameProblem = serviceNameProblem(p.name);
  if (nameProblem) out.push({ kind: 'invalid-name', service: p.name, message: `pm2's "${p.name}" cannot be a Portside service: ${nameProblem}`, fix: `rename it first (pm2 delete ${p.name}, then pm2 start … -n <name>); until then it is left as it is` });
  if (p.status !== 'online') out.push({ kind: 'process-not-online', service: p.name, message: `pm2's "${p.name}" is ${p.status}`, fix: `see why (pm2 logs ${p.name} --lines 50) and fix it before adopting: adopt keeps the port it was given` });
  if (!found) {
    out.push({ kind: 'unrouted-process', service: p.name, message: `pm2's "${p.name}" listens on no port Portside can see`, fix: 'a service must listen on a TCP port: give it one as its first argument or PORT' });
    return out;
  }
  if (!routed) {
    const route = domain ? `${p.name}.${domain}` : `/${p.name}/`;
    out.push({ kind: 'unrouted-process', service: p.name, port: found.port, message: `pm2's "${p.name}" listens on ${found.port}, but no site reaches it`, fix: `adopting gives it the route ${route}; if it should stay private, stop it (pm2 delete ${p.name}) before adopting` });
  }
  const open = found.listen.filter((a) => !LOOPBACK.test(a));
  if (open.length) out.push(exposed(p.name, found.port, open, outside?.find((o) => o.port === found.port)?.outcome));
  return out;
}

/** Sites whose upstream no adopted service answers, and duplicate blocks. */
function siteProblems(input: Input, services: readonly PlannedService[], claimed: Set<CaddySite>): Problem[] {
  const out: Problem[] = [];
  const ports = new Set(services.map((s) => s.port));
  for (const site of input.sites) {
    const names = site.hosts.join(', ') || site.listen.join(', ');
    if (site.shadowedBy !== null) {
      const block = blockOf(input, site);
      out.push({ kind: 'duplicate-site', host: site.hosts[0], message: `${names} is defined by more than one block; Caddy answers with the first, so "${block?.block.header ?? names}" (→ ${site.upstreams.map((u) => u.dial).join(', ') || 'files'}) is never reached`,
        fix: `delete one of them from the Caddyfile; adopting keeps the second block verbatim (still never reached) until you do` });
      continue;
    }
    if (claimed.has(site)) continue;
    for (const u of site.upstreams.filter((x) => x.port === null || !ports.has(x.port))) {
      const listener = input.sockets.find((s) => s.port === u.port);
      out.push(listener
        ? { kind: 'route-to-unmanaged', host: site.hosts[0], port: u.port ?? undefined, message: `${names} proxies to ${u.dial}, where ${listener.processes[0] ?? 'a process not run by pm2'} listens`, fix: 'adopting keeps this site verbatim and leaves that process alone; run it with pm2 if Portside should deploy it' }
        : { kind: 'route-to-nothing', host: site.hosts[0], port: u.port ?? undefined, message: `${names} proxies to ${u.dial}, where nothing listens: every request there gets 502`, fix: `start the service on ${u.port ?? 'that address'}, or delete the site from the Caddyfile; adopting keeps it verbatim meanwhile` });
    }
  }
  return out;
}

function folderProblems(input: Input): Problem[] {
  const used = new Set(input.processes.flatMap((p) => [p.name, (p.cwd ?? '').split('/').pop() ?? '']));
  return input.facts.serviceFolders.filter((f) => !used.has(f)).map((f) => ({
    kind: 'folder-without-process' as const, service: f, message: `~/services/${f} has no pm2 process`,
    fix: `it is not adopted; start it with pm2 first if it is a service, or remove the folder`,
  }));
}

function configProblems(facts: ServerFacts): Problem[] {
  const { adapted, running } = facts.caddy;
  if (!running || unread(running) || !adapted || unread(adapted) || canonical(adapted) === canonical(running)) return [];
  const file = facts.caddy.source?.file ?? 'the configuration file';
  return [{ kind: 'config-not-loaded', message: `${file} is not what Caddy runs: it was edited after the last reload (or the reload failed)`,
    fix: `the plan reads the file; reload (sudo systemctl reload caddy) and check your sites, or undo the edit, then run adopt again` }];
}

function canonical(x: unknown): string {
  return JSON.stringify(x, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => byCodeUnits(a, b))) : v));
}

/** Blocks kept as written: snippets and every site that is neither the static site nor a service's. */
function keptBlocks(input: Input, services: readonly PlannedService[], staticSite: StaticSite | null): KeptBlock[] {
  const owned = new Set([staticSite?.site, ...services.map((s) => s.site)].filter((k): k is string => !!k));
  const shadowed = new Set(input.sites.filter((s) => s.shadowedBy !== null).map((s) => blockOf(input, s)?.block.key));
  return input.blocks.filter((b) => b.kind !== 'global' && !owned.has(b.block.key)).map((b) => ({
    key: b.kind === 'snippet' ? b.block.header.trim() : b.block.key, text: b.block.text,
    why: b.kind === 'snippet' ? 'a snippet: kept for the blocks that import it'
      : shadowed.has(b.block.key) ? 'a second block for a site already defined: never reached (see problems)'
      : 'a site no adopted service or static site owns',
  }));
}

function notes(facts: ServerFacts, services: readonly PlannedService[]): string[] {
  return [
    ...(facts.node.onPath ? [] : [`Node is ${facts.node.path} (${facts.node.how}); a non-interactive SSH session does not find node on its PATH, so Portside runs pm2 and its agent with this Node by its full path.`]),
    ...(services.some((s) => s.process.execMode === 'fork') ? ['pm2 runs the services in fork mode: applying moves each to cluster mode (one instance), so later deploys hand over without a failed request.'] : []),
    // Measured in test/e2e/adopt-websocket.test.ts: 2 closes for adopt, 2 for undo (Caddy 2.6.2 closes upgraded connections at every config load).
    'Applying reloads Caddy twice: to stand-ins of the services on probe ports, then back to the services on their ports. Caddy closes every proxied WebSocket at a reload, so a WebSocket open through Caddy (to any site) is closed twice: a client that reconnects reaches the stand-in, then the service under pm2. Undo does the same (closed twice: the stand-in, then the original process).',
  ];
}
