/** The local fleet's boot (lib/targets/local/fleet-boot.ts): the hook's settings and how it is run (pure parts). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONVERGE_HOOK_SCRIPT } from '../../lib/bootstrap/assets';
import { bootArgv, bootPaths, renderBootDefaults } from '../../lib/targets/local/fleet-boot';
import { fleetServerSpec, STORE_CREDENTIALS } from '../../lib/targets/local/fleet-constants';

describe('local fleet boot', () => {
  const s2 = fleetServerSpec(2);

  test('the settings are what bootstrap.sh writes to /etc/default/portside on EC2, plus the local store in place of the role', () => {
    expect(renderBootDefaults(s2)).toBe([
      'export PORTSIDE_USER=portside-s2', 'export PORTSIDE_REGION=us-east-1', 'export PORTSIDE_STORE_BUCKET=portside-fleet-releases',
      'export PORTSIDE_CONVERGED_MARKER=/var/lib/portside-fleet/s2/etc/portside-converged', 'export PORTSIDE_STORE_ENDPOINT=http://10.77.1.3:4566',
      `export PORTSIDE_STORE_ACCESS_KEY_ID=${STORE_CREDENTIALS.accessKeyId}`, `export PORTSIDE_STORE_SECRET_ACCESS_KEY=${STORE_CREDENTIALS.secretAccessKey}`, '',
    ].join('\n'));
  });

  test('the settings file reads back byte for byte in bash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portside-boot-'));
    try {
      const file = join(dir, 'portside.env');
      writeFileSync(file, renderBootDefaults(s2));
      const out = execFileSync('bash', ['-c', '. "$1" && printf "%s|%s" "$PORTSIDE_CONVERGED_MARKER" "$PORTSIDE_STORE_SECRET_ACCESS_KEY"', 'bash', file], { encoding: 'utf8' });
      expect(out).toBe(`/var/lib/portside-fleet/s2/etc/portside-converged|${STORE_CREDENTIALS.secretAccessKey}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the hook runs as root in the server\'s namespace with a clean environment that still finds runuser and node', () => {
    const argv = bootArgv(s2, '/opt/node/bin:/usr/bin');
    expect(argv.slice(0, 6)).toEqual(['ip', 'netns', 'exec', 'portside-s2', 'env', '-i']);
    expect(argv[6]).toBe('PATH=/opt/node/bin:/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(argv).toContain(`PORTSIDE_DEFAULTS=${bootPaths(s2).defaults}`);
    expect(argv.slice(-2)).toEqual(['bash', CONVERGE_HOOK_SCRIPT]);
    expect(argv.some((a) => a.startsWith('PORTSIDE_HOME='))).toBe(false);
  });
});
