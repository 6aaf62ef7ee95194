import { Template } from 'aws-cdk-lib/assertions';
import { BOOTSTRAP_METADATA_KEY, readBootstrapScript } from '../../lib/bootstrap';
import { ContextKey } from '../../lib/config';
import { onlyResource, stackOf, templateOf } from './helpers';

/**
 * The server holds everything deployed to it, so a config change must never replace or stop it.
 * CloudFormation replaces an instance when its logical ID or ImageId changes, and stops it when its
 * UserData changes: all three must be identical whatever the declared configuration says.
 */
function identity(overrides: Partial<Record<ContextKey, unknown>>, bootstrapScript?: string) {
  const { id, resource } = onlyResource(Template.fromStack(stackOf(overrides, undefined, bootstrapScript)), 'AWS::EC2::Instance');
  return {
    logicalId: id,
    imageId: resource.Properties.ImageId,
    userData: JSON.stringify(resource.Properties.UserData),
    keyName: resource.Properties.KeyName,
    subnet: resource.Properties.SubnetId,
    securityGroups: resource.Properties.SecurityGroupIds,
  };
}

const baseline = identity({});

describe('the instance is neither replaced nor stopped when the declared configuration changes', () => {
  test.each<[string, Partial<Record<ContextKey, unknown>>]>([
    ['services: one added', { services: { simon: 3000, startup: 4000, chat: 4100 } }],
    ['services: a port moved', { services: { simon: 3001, startup: 4000 } }],
    ['services: none', { services: {} }],
    ['domain: set', { domain: 'example.click' }],
    ['domain: another one', { domain: 'another.example.org' }],
    ['routing: path', { routing: 'path' }],
    ['routing: subdomain with a domain', { routing: 'subdomain', domain: 'example.click' }],
    ['email: set', { email: 'me@example.com' }],
    ['schoolCidr: another range', { schoolCidr: '10.0.0.0/8' }],
    ['schoolCidr: a list with IPv6', { schoolCidr: '128.187.0.0/16,2001:db8::/32' }],
    ['hostedZoneId: set', { domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ' }],
    ['hostedZoneId: another zone', { domain: 'example.click', hostedZoneId: 'Z9999999999ABCDEFGHIJ' }],
  ])('%s', (_title, overrides) => {
    expect(identity(overrides)).toEqual(baseline);
  });

  test('a new assets/bootstrap.sh (a Portside upgrade) leaves UserData byte-for-byte the same', () => {
    const changed = readBootstrapScript().replace('set -Eeuo pipefail', 'set -Eeuo pipefail\n# a new release of the bootstrap');
    expect(changed).not.toBe(readBootstrapScript());
    expect(identity({}, changed)).toEqual(baseline);
    expect(identity({ domain: 'example.click', services: {} }, changed)).toEqual(baseline);
  });

  test('the bootstrap travels in the metadata instead', () => {
    const script = (s?: string) => onlyResource(Template.fromStack(stackOf({}, undefined, s)), 'AWS::EC2::Instance')
      .resource.Metadata[BOOTSTRAP_METADATA_KEY];
    expect(script()).toEqual({ version: 1, script: readBootstrapScript() });
    expect(script('#!/bin/bash\necho new\n')).toEqual({ version: 1, script: '#!/bin/bash\necho new\n' });
  });

  test('while the declared files in the metadata do change (that is how they reach the server)', () => {
    const meta = (o: Partial<Record<ContextKey, unknown>>) =>
      onlyResource(templateOf(o), 'AWS::EC2::Instance').resource.Metadata.Portside;
    expect(meta({ domain: 'example.click' })).not.toEqual(meta({}));
  });
});
