import { readBootstrapScript, renderUserData, UserDataSettings } from '../../lib/bootstrap';
import { onlyResource, templateOf } from './helpers';

const SETTINGS: UserDataSettings = {
  stackName: 'Portside',
  region: 'us-east-1',
  logicalId: 'ServerInstanceE518391B',
  metadataKey: 'Portside',
  user: 'ubuntu',
  www: '/var/www/portside',
  caddyDir: '/etc/portside',
  publicPorts: [22, 80, 443],
};

describe('renderUserData', () => {
  test('puts the constant settings before the script body, replacing its shebang', () => {
    const text = renderUserData('#!/bin/bash\nset -euo pipefail\necho hi\n', SETTINGS);
    expect(text).toBe([
      '#!/bin/bash',
      '# Portside UserData: constant settings, then assets/bootstrap.sh. The declared configuration is not',
      '# here: it is read from the instance\'s CloudFormation metadata, so changing it never touches UserData.',
      "export PORTSIDE_STACK='Portside'",
      "export PORTSIDE_REGION='us-east-1'",
      "export PORTSIDE_RESOURCE='ServerInstanceE518391B'",
      "export PORTSIDE_METADATA_KEY='Portside'",
      "export PORTSIDE_USER='ubuntu'",
      "export PORTSIDE_WWW='/var/www/portside'",
      "export PORTSIDE_CADDY_DIR='/etc/portside'",
      "export PORTSIDE_PUBLIC_PORTS='22 80 443'",
      'set -euo pipefail',
      'echo hi',
      '',
    ].join('\n'));
  });

  test('keeps the real script intact after the settings', () => {
    const script = readBootstrapScript();
    const text = renderUserData(script, SETTINGS);
    expect(text.endsWith(script.slice(script.indexOf('\n') + 1))).toBe(true);
  });

  test('refuses a script without a shebang', () => {
    expect(() => renderUserData('echo hi\n', SETTINGS)).toThrow('must start with a #! line');
  });

  test.each(["it's", 'two\nlines', ''])('refuses a setting that could break the quoting: %j', (value) => {
    expect(() => renderUserData('#!/bin/bash\n', { ...SETTINGS, user: value })).toThrow(/PORTSIDE_USER must be a non-empty single line/);
  });

  test('fits in EC2\'s 16 KiB UserData limit with room to spare', () => {
    expect(Buffer.byteLength(renderUserData(readBootstrapScript(), SETTINGS))).toBeLessThan(14 * 1024);
  });
});

describe('the instance\'s UserData', () => {
  test('is the rendered script with the stack name and region as references', () => {
    const { id, resource } = onlyResource(templateOf(), 'AWS::EC2::Instance');
    const parts: unknown[] = resource.Properties.UserData['Fn::Base64']['Fn::Join'][1];
    expect(parts[0]).toMatch(/export PORTSIDE_STACK='$/);
    expect(parts[1]).toEqual({ Ref: 'AWS::StackName' });
    expect(parts[3]).toEqual({ Ref: 'AWS::Region' });
    expect(parts[4]).toContain(`export PORTSIDE_RESOURCE='${id}'\n`);
    expect(parts[4]).toContain("export PORTSIDE_PUBLIC_PORTS='22 80 443'\n");
  });
});
