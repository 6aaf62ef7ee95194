import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEED_METADATA_KEY } from '../../lib/bootstrap';
import { cli } from '../support/cli';
import { onlyResource, templateOf } from '../stack/helpers';

/** `portside caddyfile` with servers ≥ 2 shows what a fleet server will run: the stack's own seed. */
const FLEET = ['-c', 'servers=3', '-c', 'domain=example.click', '-c', 'hostedZoneId=Z0123456789ABCDEFGHIJ', '-c', 'services=simon:3000,startup:4000'];

describe('portside caddyfile -c servers=N', () => {
  test('prints exactly the Caddyfile the fleet launch template seeds each server with', async () => {
    const r = await cli('caddyfile', ...FLEET);
    expect(r.code).toBe(0);
    const tpl = templateOf({ domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ', servers: 3, services: { simon: 3000, startup: 4000 } });
    const seeded: string = onlyResource(tpl, 'AWS::EC2::LaunchTemplate').resource.Metadata[SEED_METADATA_KEY].files.Caddyfile;
    expect(`${r.out}\n`).toBe(seeded);
    expect(r.err).toContain('a fleet server\'s Caddyfile (servers=3)');
  });

  test('a fleet server serves plain HTTP, trusts forwarded headers from the VPC only, and answers the health check', async () => {
    const { out } = await cli('caddyfile', ...FLEET);
    expect(out).toMatch(/^http:\/\/example\.click \{/m);
    expect(out).toMatch(/^http:\/\/simon\.example\.click \{/m);
    expect(out).not.toMatch(/^https:\/\/|^example\.click \{/m);
    expect(out.match(/trusted_proxies 10\.80\.0\.0\/24/g)).toHaveLength(2);
    expect(out).toContain('handle /_portside/health {');
  });

  test('servers=1 (the default) still prints the single server\'s HTTPS Caddyfile', async () => {
    const { out, err } = await cli('caddyfile', '-c', 'domain=example.click', '-c', 'services=simon:3000');
    expect(out).toMatch(/^example\.click \{/m);
    expect(out).not.toContain('trusted_proxies');
    expect(out).not.toContain('/_portside/health');
    expect(err).not.toContain('fleet');
  });

  const hasCaddy = spawnSync('sh', ['-c', 'command -v caddy']).status === 0;
  (hasCaddy ? test : test.skip)('the fleet Caddyfile adapts with the real Caddy', async () => {
    const { out } = await cli('caddyfile', ...FLEET);
    const dir = mkdtempSync(join(tmpdir(), 'portside-caddyfile-fleet-'));
    try {
      writeFileSync(join(dir, 'Caddyfile'), `${out}\n`);
      const r = spawnSync('caddy', ['adapt', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile', '--validate'],
        { env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir }, encoding: 'utf8' });
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
