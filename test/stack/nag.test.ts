import { Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { newApp, stackOf } from './helpers';

/** Runs cdk-nag's AwsSolutions pack on a stack's construct tree (cdk-nag 3's direct entry point). */
function findings(overrides = {}): string[] {
  const stack = stackOf(overrides);
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.map((v) =>
    `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}: ${v.description}`);
}

describe('cdk-nag AwsSolutions', () => {
  test('has no unacknowledged findings with the defaults', () => {
    expect(findings()).toEqual([]);
  });

  test('has no unacknowledged findings with a domain, a zone and an imported key', () => {
    expect(findings({
      domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ', routing: 'path',
      sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2z7KxJ0yQ+dR8YQ3zqk5x4b8T9m2k8XfK3yq6VvTqW me@laptop',
    })).toEqual([]);
  });

  test('really checks: an open security group outside our constructs is reported', () => {
    const stack = new Stack(newApp(), 'Probe');
    const sg = new ec2.SecurityGroup(stack, 'Open', { vpc: new ec2.Vpc(stack, 'Vpc'), description: 'probe' });
    sg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80));
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-EC23', 'AwsSolutions-VPC7']));
  });

  test('acknowledges exactly these findings, each on the construct it is about', () => {
    const stack = stackOf();
    const acks = stack.node.findAll()
      .flatMap((c) => c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.keys(m.data as Record<string, string>).map((id) => `${c.node.path} ${id.replace(/^Annotation::/i, '')}`)))
      .filter((line) => line.includes(' AwsSolutions-'))
      .sort();
    expect(acks).toEqual([
      'Portside/AWS679f53fac002430cb0da5b7982bd2287 AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'Portside/AWS679f53fac002430cb0da5b7982bd2287 AwsSolutions-L1',
      'Portside/Server/Instance AwsSolutions-EC28',
      'Portside/Server/Instance AwsSolutions-EC29',
      'Portside/Server/SecurityGroup AwsSolutions-EC23',
      'Portside/Server/UpgradeGuard/Function AwsSolutions-L1',
      'Portside/Vpc AwsSolutions-VPC7',
    ]);
  });

  test('every acknowledgement carries a reason', () => {
    const stack = stackOf();
    const reasons = stack.node.findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .filter(([id]) => id.includes('AwsSolutions-'));
    expect(reasons).toHaveLength(7);
    for (const [id, reason] of reasons) expect([id, reason.length > 30]).toEqual([id, true]);
  });
});
