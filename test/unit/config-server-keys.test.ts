import { ConfigError, ContextKey, formatProblem, loadConfig } from '../../lib/config';

/** A valid baseline; each negative test changes one field. */
const BASE: Readonly<Record<string, unknown>> = { schoolCidr: '128.187.0.0/16', routing: 'path', instanceType: 't3.micro' };

const load = (overrides: Partial<Record<ContextKey, unknown>>) => {
  const ctx: Record<string, unknown> = { ...BASE, ...overrides };
  return loadConfig((key) => ctx[key]);
};

/** The one printed problem line (key, rule and fix, and the value received), as bin/app.ts shows it. */
function problemLine(overrides: Partial<Record<ContextKey, unknown>>): string {
  try {
    load(overrides);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    expect(e.problems).toHaveLength(1);
    return formatProblem(e.problems[0]);
  }
  throw new Error(`expected ${JSON.stringify(overrides)} to be refused`);
}

describe('cpuCredits', () => {
  test('defaults to standard (no extra charges), and takes unlimited', () => {
    expect(load({}).cpuCredits).toBe('standard');
    expect(load({ cpuCredits: 'unlimited' }).cpuCredits).toBe('unlimited');
    expect(load({ cpuCredits: '' }).cpuCredits).toBe('standard');
  });

  test('refuses another word, naming both values and an example', () => {
    expect(problemLine({ cpuCredits: 'Unlimited' })).toBe(
      'cpuCredits: cpuCredits is "standard" (never charged extra; slows down when credits run out) or "unlimited" (stays fast, charged when busy for long); e.g. -c cpuCredits=standard (received "Unlimited")',
    );
  });

  test('refuses unlimited on a type without credits, with the fix', () => {
    expect(problemLine({ cpuCredits: 'unlimited', instanceType: 'm7g.large' })).toBe(
      'cpuCredits: only burstable (T) instance types have CPU credits, and instanceType is "m7g.large"; drop cpuCredits or pick a T type such as t3.micro (received "unlimited")',
    );
  });
});

describe('availabilityZone', () => {
  test('is optional, and takes a zone name', () => {
    expect(load({}).availabilityZone).toBeUndefined();
    expect(load({ availabilityZone: 'eu-central-1b' }).availabilityZone).toBe('eu-central-1b');
    expect(load({ availabilityZone: 'us-gov-west-1a' }).availabilityZone).toBe('us-gov-west-1a');
  });

  test.each(['us-east-1', 'use1-az1', 'US-EAST-1A', 'us-west-2-lax-1a'])('refuses %j with an example', (az) => {
    expect(problemLine({ availabilityZone: az })).toBe(
      `availabilityZone: an Availability Zone is a region plus a letter, e.g. us-east-1a (a Local Zone is not supported); see \`aws ec2 describe-availability-zones\` (received ${JSON.stringify(az)})`,
    );
  });
});
