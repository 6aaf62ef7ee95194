/**
 * The course fixture's boot (lib/targets/course/reboot.ts): the unit `pm2 startup` writes, rendered from
 * pm2's own template, and the [Service] settings read from it and from Caddy's packaged unit.
 */
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CADDY_UNIT, parseUnit, pm2StartupUnit } from '../../lib/targets/course/reboot';

const NVM_BIN = '/home/ubuntu/.nvm/versions/node/v20.20.2/bin';
const PM2 = '/home/ubuntu/.nvm/versions/node/v20.20.2/lib/node_modules/pm2/bin/pm2';
const values = { pm2Path: PM2, envPath: `${NVM_BIN}:/usr/local/bin:/usr/bin:/bin:/usr/games:${NVM_BIN}`, user: 'ubuntu', home: '/home/ubuntu' };
const template = (): string => readFileSync(join(execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim(), 'pm2', 'lib', 'templates', 'init-scripts', 'systemd.tpl'), 'utf8');

describe('pm2StartupUnit', () => {
  test('fills every placeholder of pm2\'s systemd template as pm2 startup does', () => {
    const unit = pm2StartupUnit(template(), values);
    expect(unit).not.toMatch(/%[A-Z_]+%/);
    expect(parseUnit(unit)).toEqual({
      user: 'ubuntu', group: null, ambientCapabilities: [],
      environment: { PATH: `${values.envPath}:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin`, PM2_HOME: '/home/ubuntu/.pm2' },
      execStart: [PM2, 'resurrect'],
    });
    expect(unit).toMatch(/^PIDFile=\/home\/ubuntu\/\.pm2\/pm2\.pid$/m);
  });
});

describe('parseUnit', () => {
  const caddy = existsSync(CADDY_UNIT) ? test : test.skip;
  caddy('reads Caddy\'s packaged unit: its user, group, capability and ExecStart', () => {
    expect(parseUnit(readFileSync(CADDY_UNIT, 'utf8'))).toEqual({
      user: 'caddy', group: 'caddy', environment: {}, ambientCapabilities: ['net_bind_service'],
      execStart: ['/usr/bin/caddy', 'run', '--environ', '--config', '/etc/caddy/Caddyfile'],
    });
  });

  test('throws naming what is missing when a unit has no User=', () => {
    expect(() => parseUnit('[Service]\nExecStart=/bin/true\n')).toThrow(/User=\(none\)/);
  });

  test('throws on a quoted ExecStart (not split the way systemd would)', () => {
    expect(() => parseUnit('[Service]\nUser=u\nExecStart=/bin/sh -c "echo hi"\n')).toThrow(/without quotes/);
  });
});
