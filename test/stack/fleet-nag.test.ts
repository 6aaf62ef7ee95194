/**
 * cdk-nag's AwsSolutions pack on the fleet stack (issue #10): no unacknowledged finding, and each
 * acknowledgement on the construct it is about, with its reason.
 */
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ContextKey } from '../../lib/config';
import { stackOf } from './helpers';

const FLEET: Partial<Record<ContextKey, unknown>> = { domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ', servers: 2 };

function findings(overrides: Partial<Record<ContextKey, unknown>> = {}): string[] {
  const report = new AwsSolutionsChecks().validateScope(stackOf({ ...FLEET, ...overrides }));
  return report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}`);
}

/** Every AwsSolutions acknowledgement in the stack: `<construct path> <rule>` → reason. */
function acknowledgements(): Record<string, string> {
  const stack = stackOf(FLEET);
  return Object.fromEntries(stack.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.entries(m.data as Record<string, string>))
    .filter(([id]) => id.includes('AwsSolutions-'))
    .map(([id, reason]) => [`${c.node.path} ${id.replace(/^Annotation::/i, '')}`, reason])));
}

describe('cdk-nag AwsSolutions on a fleet', () => {
  test('has no unacknowledged findings', () => {
    expect(findings()).toEqual([]);
  });

  test('has none with room to grow, path routing and an imported key', () => {
    expect(findings({
      maxServers: 6, routing: 'path',
      sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2z7KxJ0yQ+dR8YQ3zqk5x4b8T9m2k8XfK3yq6VvTqW me@laptop',
    })).toEqual([]);
  });

  test('acknowledges exactly these findings, each on its construct, each with a reason', () => {
    const acks = acknowledgements();
    expect(Object.keys(acks).sort()).toEqual([
      'Portside/AWS679f53fac002430cb0da5b7982bd2287 AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'Portside/AWS679f53fac002430cb0da5b7982bd2287 AwsSolutions-L1',
      'Portside/Fleet/LoadBalancer/LoadBalancer AwsSolutions-ELB2',
      'Portside/Fleet/LoadBalancer/SecurityGroup AwsSolutions-EC23',
      'Portside/Fleet/Releases/Bucket AwsSolutions-S1',
      'Portside/Fleet/Servers/Group AwsSolutions-AS3',
      'Portside/Fleet/Servers/Role AwsSolutions-IAM5[Resource::<FleetReleasesBucket9BC6B6D0.Arn>/*]',
      'Portside/Fleet/Servers/Role AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/portside/Portside/*]',
      'Portside/Vpc AwsSolutions-VPC7',
    ]);
    for (const [where, reason] of Object.entries(acks)) expect([where, reason.length > 30]).toEqual([where, true]);
  });
});
