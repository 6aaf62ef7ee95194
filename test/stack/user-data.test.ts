import { readUserDataStub, renderUserData, USER_DATA_MAX_BYTES, UserDataSettings } from '../../lib/bootstrap';
import { onlyResource, templateOf } from './helpers';

const SETTINGS: UserDataSettings = {
  stackName: 'Portside',
  region: 'us-east-1',
  logicalId: 'ServerInstanceE518391B',
  metadataKey: 'Portside',
  bootstrapKey: 'PortsideBootstrap',
  signalUrl: 'https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/example',
  user: 'ubuntu',
  www: '/var/www/portside',
  caddyDir: '/etc/portside',
  publicPorts: [22, 80, 443],
};

describe('renderUserData', () => {
  test('puts the constant settings before the stub\'s body, replacing its shebang', () => {
    const text = renderUserData('#!/bin/bash\nset -euo pipefail\necho hi\n', SETTINGS);
    expect(text).toBe([
      '#!/bin/bash',
      '# Portside UserData: constant settings, then assets/user-data.sh (the rest is in the metadata).',
      "export PORTSIDE_STACK='Portside'",
      "export PORTSIDE_REGION='us-east-1'",
      "export PORTSIDE_RESOURCE='ServerInstanceE518391B'",
      "export PORTSIDE_METADATA_KEY='Portside'",
      "export PORTSIDE_BOOTSTRAP_KEY='PortsideBootstrap'",
      "export PORTSIDE_SIGNAL_URL='https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/example'",
      "export PORTSIDE_USER='ubuntu'",
      "export PORTSIDE_WWW='/var/www/portside'",
      "export PORTSIDE_CADDY_DIR='/etc/portside'",
      "export PORTSIDE_PUBLIC_PORTS='22 80 443'",
      'set -euo pipefail',
      'echo hi',
      '',
    ].join('\n'));
  });

  test('keeps the real stub intact after the settings', () => {
    const script = readUserDataStub();
    const text = renderUserData(script, SETTINGS);
    expect(text.endsWith(script.slice(script.indexOf('\n') + 1))).toBe(true);
  });

  test('refuses a script without a shebang', () => {
    expect(() => renderUserData('echo hi\n', SETTINGS)).toThrow('the UserData stub must start with a #! line');
  });

  test.each(["it's", 'two\nlines', ''])('refuses a setting that could break the quoting: %j', (value) => {
    expect(() => renderUserData('#!/bin/bash\n', { ...SETTINGS, user: value })).toThrow(/PORTSIDE_USER must be a non-empty single line/);
  });

  test('is a small stub: at most 4 KiB (EC2 allows 16 KiB), even with a long presigned signal URL', () => {
    // A wait condition handle's URL is an S3 presigned URL (~500 characters); 800 leaves room.
    const signalUrl = `https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/${'a'.repeat(736)}`;
    expect(Buffer.byteLength(renderUserData(readUserDataStub(), { ...SETTINGS, signalUrl }))).toBeLessThanOrEqual(USER_DATA_MAX_BYTES);
  });
});

describe('the instance\'s UserData', () => {
  test('is the rendered stub with the stack name, region and boot signal URL as references', () => {
    const t = templateOf();
    const { id, resource } = onlyResource(t, 'AWS::EC2::Instance');
    const handle = onlyResource(t, 'AWS::CloudFormation::WaitConditionHandle').id;
    const parts: unknown[] = resource.Properties.UserData['Fn::Base64']['Fn::Join'][1];
    expect(parts[0]).toMatch(/export PORTSIDE_STACK='$/);
    expect(parts[1]).toEqual({ Ref: 'AWS::StackName' });
    expect(parts[3]).toEqual({ Ref: 'AWS::Region' });
    expect(parts[4]).toContain(`export PORTSIDE_RESOURCE='${id}'\n`);
    expect(parts[4]).toMatch(/export PORTSIDE_SIGNAL_URL='$/);
    expect(parts[5]).toEqual({ Ref: handle });
    expect(parts[6]).toContain("export PORTSIDE_PUBLIC_PORTS='22 80 443'\n");
    expect(parts[6]).toContain(readUserDataStub().replace(/^#!.*\n/, ''));
  });
});
