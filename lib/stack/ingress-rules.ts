import { isIP } from 'node:net';
import { cidrProblem } from '../config/validators';
import { ingressPorts } from '../ports';

/** One inbound TCP rule of the server's security group. */
export interface IngressRule {
  readonly cidr: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly description: string;
}

const WORLD: ReadonlyArray<{ cidr: string; family: 4 | 6 }> = [
  { cidr: '0.0.0.0/0', family: 4 },
  { cidr: '::/0', family: 6 },
];

/**
 * The complete inbound rule set, derived from the port model: `world` ports from everywhere, `school`
 * ports (SSH) only from the school's CIDRs, and nothing else. Pure.
 *
 * Throws if a school CIDR is malformed or covers the whole internet: config validation refuses those
 * too, but a construct used directly must not be able to open SSH to the world either.
 */
export function ingressRules(schoolCidrs: readonly string[]): IngressRule[] {
  if (schoolCidrs.length === 0) {
    throw new Error('schoolCidrs: give at least one CIDR for SSH, e.g. 128.187.0.0/16');
  }
  for (const cidr of schoolCidrs) {
    const problem = cidrProblem(cidr);
    if (problem) throw new Error(`schoolCidrs: "${cidr}": ${problem}`);
  }
  const rules: IngressRule[] = [];
  for (const port of ingressPorts('world')) {
    for (const peer of WORLD) rules.push({ ...peer, port, description: `port ${port} from anywhere (IPv${peer.family})` });
  }
  for (const port of ingressPorts('school')) {
    for (const cidr of schoolCidrs) {
      const family = isIP(cidr.split('/')[0]) === 6 ? 6 : 4;
      rules.push({ cidr, family, port, description: `port ${port} from the school (${cidr})` });
    }
  }
  return rules;
}
