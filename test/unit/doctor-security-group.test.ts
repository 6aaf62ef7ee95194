/**
 * The security-group family (lib/doctor/checks/security-group.ts): AWS only, the instance's ingress
 * against the port model. Facts in, checks out; no AWS.
 */
import { securityGroupFamily } from '../../lib/doctor/checks/security-group';
import type { SecurityGroupRule } from '../../lib/doctor';
import { healthy, run } from '../support/doctor-facts';

const rule = (fromPort: number | null, peer: string, protocol = 'tcp', toPort = fromPort): SecurityGroupRule => ({ groupId: 'sg-1', protocol, fromPort, toPort, peer });
const withRules = (rules: SecurityGroupRule[]) => run(securityGroupFamily, { ...healthy(), securityGroup: rules });
const model = (): SecurityGroupRule[] => healthy().securityGroup as SecurityGroupRule[];

describe('security group', () => {
  test('exactly the model: one pass naming schoolCidr', () => {
    expect(run(securityGroupFamily, healthy())).toEqual([{ id: 'sg', status: 'pass', message: 'the security group allows exactly 22 from 128.187.0.0/16 and 80, 443 from anywhere' }]);
  });

  test('not on AWS (no group read): nothing to report', () => {
    expect(run(securityGroupFamily, { ...healthy(), securityGroup: undefined })).toEqual([]);
  });

  test('the group cannot be read: a failure naming the permissions', () => {
    expect(run(securityGroupFamily, { ...healthy(), securityGroup: { error: 'AccessDenied' } })).toEqual([{
      id: 'sg.read', status: 'fail', message: 'could not read the security group: AccessDenied', fix: 'give your AWS credentials ec2:DescribeInstances and ec2:DescribeSecurityGroups',
    }]);
  });

  test('an invalid declaration: skipped, there is no model to compare with', () => {
    expect(run(securityGroupFamily, { ...healthy(), declared: { error: 'bad' } })).toEqual([expect.objectContaining({ id: 'sg.model', status: 'skip' })]);
  });

  test('a port range that covers 22 from the world is SSH open to the whole internet', () => {
    expect(withRules([...model(), rule(0, '0.0.0.0/0', 'tcp', 65535)])).toEqual([expect.objectContaining({
      id: 'sg.extra.sg-1.tcp.0.0.0.0.0/0', status: 'fail', message: 'the security group allows tcp 0-65535 from 0.0.0.0/0 (sg-1): SSH open to the whole internet',
    })]);
  });

  test('22 from another network is beyond schoolCidr; UDP from the world is a port beyond 80 and 443', () => {
    expect(withRules([...model(), rule(22, '10.0.0.0/8'), rule(53, '::/0', 'udp')]).map((r) => r.message)).toEqual([
      'the security group allows tcp 22 from 10.0.0.0/8 (sg-1): SSH open beyond schoolCidr',
      'the security group allows udp 53 from ::/0 (sg-1): a port beyond 80 and 443 open to the world',
    ]);
  });

  test('a rule from another group is a rule the model does not have', () => {
    expect(withRules([...model(), rule(8080, 'sg-9')])[0].message).toBe('the security group allows tcp 8080 from sg-9 (sg-1): a rule the port model does not have');
  });

  test('a missing SSH rule warns; a missing web rule fails; npx cdk deploy puts them back', () => {
    const missing = withRules([]);
    expect(Object.fromEntries(missing.map((r) => [r.id, r.status]))).toEqual({
      'sg.missing.22.128.187.0.0/16': 'warn',
      'sg.missing.80.0.0.0.0/0': 'fail', 'sg.missing.80.::/0': 'fail', 'sg.missing.443.0.0.0.0/0': 'fail', 'sg.missing.443.::/0': 'fail',
    });
    for (const r of missing) expect(r.fix).toBe('npx cdk deploy puts the rules back');
  });
});
