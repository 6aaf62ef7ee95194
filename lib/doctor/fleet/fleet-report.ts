import { formatResults, summary } from '../report';
import type { CheckResult } from '../types';
import type { FleetReport } from './types';

/** Every result of a fleet's report, the servers' first: what the summary and the exit status count. */
export const allResults = (r: FleetReport): CheckResult[] => [...r.servers.flatMap((s) => s.results), ...r.fleet];

/** The text report: a block per server (its own checks), then the fleet's block, then one summary line. */
export function formatFleetReport(r: FleetReport): string[] {
  const lines: string[] = [];
  for (const s of r.servers) lines.push(`server ${s.server}`, ...formatResults(s.results, '  '), '');
  lines.push(`fleet of ${r.servers.length} server${r.servers.length === 1 ? '' : 's'}`, ...formatResults(r.fleet, '  '), '');
  lines.push(`fleet: ${summary(allResults(r))}`);
  return lines;
}
