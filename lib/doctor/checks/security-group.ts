import { ingressRules } from '../../stack/ingress-rules';
import { HTTP_PORT, HTTPS_PORT, SSH_PORT } from '../../remote/layout';
import { CheckResult, DoctorFacts, SecurityGroupRule, failed } from '../types';
import type { CheckFamily } from './family';
import { behindLoadBalancer } from './fleet-mode';

const WORLD = ['0.0.0.0/0', '::/0'];

function describe(r: SecurityGroupRule): string {
  const ports = r.protocol === '-1' ? 'all traffic' : r.fromPort === r.toPort ? `${r.protocol} ${r.fromPort}` : `${r.protocol} ${r.fromPort}-${r.toPort}`;
  return `${ports} from ${r.peer} (${r.groupId})`;
}

/** AWS: the security group's ingress is exactly the port model: 22 only from schoolCidr, 80 and 443 from the world. */
export function securityGroupChecks(f: DoctorFacts): CheckResult[] {
  if (f.securityGroup === undefined) return [];
  if (failed(f.securityGroup)) return [{ id: 'sg.read', status: 'fail', message: `could not read the security group: ${f.securityGroup.error}`, fix: 'give your AWS credentials ec2:DescribeInstances and ec2:DescribeSecurityGroups' }];
  if (failed(f.declared)) return [{ id: 'sg.model', status: 'skip', message: 'the declared configuration is invalid, so there is no port model to compare with' }];
  if (behindLoadBalancer(f)) return fleetSecurityGroupChecks(f.securityGroup, f.declared.schoolCidrs);
  const expected = ingressRules(f.declared.schoolCidrs);
  const rules = f.securityGroup;
  const out: CheckResult[] = [];
  const fixStack = 'security group rules come from the stack: remove hand-made rules in the console and run npx cdk deploy';
  for (const r of rules) {
    const matches = r.protocol === 'tcp' && r.fromPort !== null && r.fromPort === r.toPort && expected.some((e) => e.port === r.fromPort && e.cidr === r.peer);
    if (matches) continue;
    const covers22 = r.protocol === '-1' || (r.fromPort !== null && r.toPort !== null && r.fromPort <= SSH_PORT && r.toPort >= SSH_PORT && r.protocol === 'tcp');
    const why = covers22 && WORLD.includes(r.peer) ? 'SSH open to the whole internet'
      : covers22 ? 'SSH open beyond schoolCidr'
        : WORLD.includes(r.peer) ? `a port beyond ${HTTP_PORT} and ${HTTPS_PORT} open to the world` : 'a rule the port model does not have';
    out.push({ id: `sg.extra.${r.groupId}.${r.protocol}.${r.fromPort ?? 'all'}.${r.peer}`, status: 'fail', message: `the security group allows ${describe(r)}: ${why}`, fix: fixStack });
  }
  for (const e of expected) {
    const present = rules.some((r) => r.protocol === 'tcp' && r.fromPort === e.port && r.toPort === e.port && r.peer === e.cidr);
    if (!present) {
      out.push({ id: `sg.missing.${e.port}.${e.cidr}`, status: e.port === SSH_PORT ? 'warn' : 'fail', message: `the security group lacks ${e.description}`, fix: 'npx cdk deploy puts the rules back' });
    }
  }
  if (out.length === 0) out.push({ id: 'sg', status: 'pass', message: `the security group allows exactly ${SSH_PORT} from ${f.declared.schoolCidrs.join(', ')} and ${HTTP_PORT}, ${HTTPS_PORT} from anywhere` });
  return out;
}

const isGroup = (peer: string): boolean => peer.startsWith('sg-');
const fleetFix = 'a fleet server\'s rules come from the stack (22 from schoolCidr, 80 from the load balancer\'s group): remove hand-made rules in the console and run npx cdk deploy';

/**
 * A fleet server's group (lib/stack/fleet): SSH from schoolCidr, port 80 only from the load balancer's
 * security group, nothing else. 80 or 443 from the world would let requests bypass the load balancer.
 */
function fleetSecurityGroupChecks(rules: readonly SecurityGroupRule[], school: readonly string[]): CheckResult[] {
  const ssh = ingressRules(school).filter((e) => e.port === SSH_PORT);
  const single = (r: SecurityGroupRule, port: number) => r.protocol === 'tcp' && r.fromPort === port && r.toPort === port;
  const out: CheckResult[] = [];
  for (const r of rules) {
    if ((single(r, SSH_PORT) && ssh.some((e) => e.cidr === r.peer)) || (single(r, HTTP_PORT) && isGroup(r.peer))) continue;
    const covers = (port: number) => r.protocol === '-1' || (r.protocol === 'tcp' && r.fromPort !== null && r.toPort !== null && r.fromPort <= port && r.toPort >= port);
    const why = covers(SSH_PORT) && WORLD.includes(r.peer) ? 'SSH open to the whole internet'
      : covers(SSH_PORT) ? 'SSH open beyond schoolCidr'
        : (covers(HTTP_PORT) || covers(HTTPS_PORT)) && !isGroup(r.peer) ? 'requests can reach this fleet server without the load balancer' : 'a rule a fleet server does not have';
    out.push({ id: `sg.extra.${r.groupId}.${r.protocol}.${r.fromPort ?? 'all'}.${r.peer}`, status: 'fail', message: `the security group allows ${describe(r)}: ${why}`, fix: fleetFix });
  }
  for (const e of ssh.filter((x) => !rules.some((r) => single(r, SSH_PORT) && r.peer === x.cidr))) {
    out.push({ id: `sg.missing.${SSH_PORT}.${e.cidr}`, status: 'warn', message: `the security group lacks ${e.description}`, fix: 'npx cdk deploy puts the rules back' });
  }
  const lb = rules.filter((r) => single(r, HTTP_PORT) && isGroup(r.peer));
  if (lb.length === 0) {
    out.push({ id: `sg.missing.${HTTP_PORT}.load-balancer`, status: 'fail', message: `the security group lets no load balancer reach port ${HTTP_PORT}: the load balancer's health checks and requests cannot reach this server`, fix: 'npx cdk deploy puts the rules back' });
  }
  if (out.length === 0) out.push({ id: 'sg', status: 'pass', message: `the security group allows exactly ${SSH_PORT} from ${school.join(', ')} and ${HTTP_PORT} from the load balancer's group (${lb.map((r) => r.peer).join(', ')})` });
  return out;
}

export const securityGroupFamily: CheckFamily = {
  name: 'security-group', idPrefix: 'sg', run: securityGroupChecks,
  looksAt: 'AWS only: the security group\'s ingress is exactly the port model (SSH from schoolCidr, HTTP and HTTPS from anywhere)',
};
