import { ADOPTED_WWW } from './caddy-reach';
import type { Directive } from './caddyfile-sites';
import type { AdoptPlan, PlannedService, Refusal, SiteDirectives } from './plan-types';

/** The plan as people read it (pure): one section per concern, problems with their fixes. */
export function formatPlan(plan: AdoptPlan, where: string): string[] {
  const home = (p: string | null): string => (p && plan.server.home && p.startsWith(`${plan.server.home}/`) ? `~${p.slice(plan.server.home.length)}` : p ?? '-');
  const s = plan.server;
  const out = [
    `Adoption plan for ${where}`,
    '',
    'Server',
    `  Caddy   pid ${s.caddy.pids.join(', ')} (${s.caddy.binary ?? 'caddy'}), runs ${s.caddy.config.file}${s.caddy.config.adapter ? ` (${s.caddy.config.adapter})` : ' (JSON)'}`,
    `          found from ${s.caddy.config.how}`,
    `  Node    ${home(s.node.path)}: ${s.node.how}${s.node.onPath ? '' : '; not on the PATH of a non-interactive SSH session'}`,
    `  pm2     ${home(s.pm2.bin)}, daemon pid ${s.pm2.daemonPid}`,
    `  Files   ${plan.portsideRoot ? `Portside's Caddyfile and static releases in ${plan.portsideRoot}/${ADOPTED_WWW} (Caddy's user can read it, ${s.user} can write it)` : 'no folder found that Caddy\'s user can read and this user can write (see Problems)'}`,
    '',
  ];
  if (plan.staticSite) {
    const st = plan.staticSite;
    out.push(`Static site  ${st.hosts.join(', ') || ':80'} -> ${st.root}${st.publicHtml ? ` (~/public_html -> ${st.publicHtml})` : ''}`, ...directiveLines(st.directives, '  '), '');
  } else {
    out.push('Static site  none (no site serves files)', '');
  }
  out.push(`Services (${plan.services.length})`);
  const width = Math.max(4, ...plan.services.map((x) => x.name.length));
  for (const svc of plan.services) out.push(...serviceLines(svc, width, home));
  if (plan.services.length === 0) out.push('  none: pm2 runs no process');
  out.push('', 'Kept verbatim (Portside\'s renderer cannot write these)');
  if (plan.keep.globalOptions) out.push(`  global options: ${innerLines(plan.keep.globalOptions).join('; ')}`);
  for (const b of plan.keep.blocks) out.push(`  ${b.key}: ${b.why}`);
  if (!plan.keep.globalOptions && plan.keep.blocks.length === 0) out.push('  nothing');
  out.push('', plan.problems.length ? `Problems (${plan.problems.length})` : 'Problems: none');
  for (const p of plan.problems) out.push(`  ${p.kind}: ${p.message}`, `      fix: ${p.fix}`);
  out.push('', 'Notes', ...plan.notes.map((n) => `  - ${n}`), '');
  const r = plan.registry;
  out.push(`Portside would record: ${r.domain ? `domain ${r.domain}, ` : 'no domain, '}${r.routing} routing, TLS ${r.tls}, services ${Object.entries(r.services).map(([n, p]) => `${n}=${p}`).join(' ') || 'none'}`);
  return out;
}

function serviceLines(svc: PlannedService, width: number, home: (p: string | null) => string): string[] {
  const p = svc.process;
  const routes = [...svc.hostnames, ...svc.paths];
  return [
    `  ${svc.name.padEnd(width)}  port ${svc.port} on ${svc.listen.join(', ') || '?'}  ${home(svc.folder)}  pm2 #${p.pmId} pid ${p.pid ?? '-'} ${p.status} ${p.execMode}`,
    `  ${' '.repeat(width)}  ${routes.length ? `reached at ${routes.join(', ')}` : 'no route'}; runs ${home(p.script)}${p.args.length ? ` -- ${p.args.join(' ')}` : ''}`,
    ...directiveLines(svc.directives, `  ${' '.repeat(width)}  `),
  ];
}

function directiveLines(d: SiteDirectives, indent: string): string[] {
  const show = (list: readonly Directive[]) => list.map((x) => x.text.split('\n')[0].trim()).join('; ');
  return [
    ...(d.portside.length ? [`${indent}replaced by Portside's own: ${show(d.portside)}`] : []),
    ...(d.kept.length ? [`${indent}kept on its site: ${show(d.kept)}`] : []),
  ];
}

function innerLines(block: string): string[] {
  return block.split('\n').slice(1, -1).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** A refusal as people read it. */
export function formatRefusal(r: Refusal, where: string): string[] {
  return [`Portside cannot adopt ${where} (${r.reason}): ${r.found}.`, `What to do: ${r.fix}.`, 'Nothing on the server was changed.'];
}
