/**
 * A fleet server's boot (issue #10) in assets/bootstrap.sh, sourced with fake helpers: it signals its Auto
 * Scaling group with cfn-signal (not a wait condition URL), and converges before it says SUCCESS.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ASSETS_DIR, SEED_METADATA_KEY } from '../../lib/bootstrap';
import { onlyResource, templateOf } from './helpers';

const SCRIPT = join(ASSETS_DIR, 'bootstrap.sh');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portside-fleet-boot-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'etc'));
  // The fake cfn-signal records its arguments, one per line; the fake curl must never be called.
  writeFileSync(join(dir, 'bin', 'cfn-signal'), `#!/bin/bash\nprintf '%s\\n' "$@" >>"${dir}/cfn-signal.args"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'bin', 'curl'), `#!/bin/bash\necho curl "$@" >>"${dir}/curl.args"\n`, { mode: 0o755 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Source the bootstrap (it then runs nothing) as a fleet server would have it, and run `code`. */
function fleetShell(code: string, env: Record<string, string> = {}) {
  return spawnSync('bash', ['-c', `. ${JSON.stringify(SCRIPT)}\n${code}`], {
    env: {
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`, PORTSIDE_USER: 'root', PORTSIDE_WWW: join(dir, 'www'),
      PORTSIDE_CADDY_DIR: join(dir, 'etc'), PORTSIDE_HOME: dir, PORTSIDE_LOG: join(dir, 'log'), PORTSIDE_RETRY_DELAYS: '0',
      PORTSIDE_STACK: 'Portside', PORTSIDE_REGION: 'eu-west-1', PORTSIDE_RESOURCE: 'FleetServersLaunchTemplateX',
      PORTSIDE_CFN_BIN: join(dir, 'bin'), PORTSIDE_SIGNAL_RESOURCE: 'FleetServersGroupASGX',
      PORTSIDE_SIGNALLED_MARK: join(dir, 'boot-signalled'), PORTSIDE_CONVERGED_MARKER: join(dir, 'etc', 'portside-converged'),
      PORTSIDE_CONVERGE_HOOK: join(dir, 'bin', 'portside-converge'),
      ...env,
    },
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const read = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
const asRoot = process.getuid?.() === 0;

(asRoot ? describe : describe.skip)('a fleet server\'s boot (bootstrap.sh, sourced)', () => {
  test.each([['SUCCESS', 'true'], ['FAILURE', 'false']])('signals %s to its Auto Scaling group with cfn-signal, not a wait condition URL', (status, success) => {
    const r = fleetShell(`signal_wait_condition ${status} "reason " "tail"`);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(read('cfn-signal.args').split('\n')).toEqual([
      '--success', success, '--stack', 'Portside', '--resource', 'FleetServersGroupASGX', '--region', 'eu-west-1', '',
    ]);
    expect(read('curl.args')).toBe('');
    // The UserData stub then sends nothing of its own.
    expect(existsSync(join(dir, 'boot-signalled'))).toBe(true);
  });

  test('a cfn-signal that keeps failing is retried, then the signal fails', () => {
    writeFileSync(join(dir, 'bin', 'cfn-signal'), `#!/bin/bash\necho x >>"${dir}/cfn-signal.tries"\nexit 1\n`, { mode: 0o755 });
    const r = fleetShell('signal_wait_condition SUCCESS "" ""', { PORTSIDE_RETRY_DELAYS: '0 0' });
    expect(r.status).not.toBe(0);
    expect(read('cfn-signal.tries')).toBe('x\nx\nx\n');
    expect(existsSync(join(dir, 'boot-signalled'))).toBe(false);
  });

  test('installs the converge hook from the launch template\'s metadata (0755), then runs it', () => {
    const hook = '#!/bin/bash\necho "hook says $1" >"$HOOK_OUT"\n';
    writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ version: 1, script: hook }));
    writeFileSync(join(dir, 'bin', 'cfn-get-metadata'), `#!/bin/bash\nprintf '%s\\n' "$@" >"${dir}/metadata.args"\ncat "${dir}/metadata.json"\n`, { mode: 0o755 });
    const r = fleetShell('install_converge_hook && converge_at_boot', { PORTSIDE_CONVERGE_KEY: 'PortsideConverge', HOOK_OUT: join(dir, 'hook-out') });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(readFileSync(join(dir, 'bin', 'portside-converge'), 'utf8')).toBe(hook);
    expect(statSync(join(dir, 'bin', 'portside-converge')).mode & 0o777).toBe(0o755);
    expect(read('metadata.args')).toContain('--key\nPortsideConverge\n');
    expect(read('metadata.args')).toContain('--resource\nFleetServersLaunchTemplateX\n');
    expect(read('hook-out')).toBe('hook says \n');
  });

  test('a failure before the CloudFormation helpers exist is not retried for minutes', () => {
    rmSync(join(dir, 'bin', 'cfn-signal'));
    const r = fleetShell('signal_wait_condition FAILURE "" ""', { PORTSIDE_RETRY_DELAYS: '60' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('cfn-signal is not installed yet: CloudFormation will wait for its timeout');
  });

  test('converges with the hook when there is one; the hook\'s failure is the boot\'s', () => {
    writeFileSync(join(dir, 'bin', 'portside-converge'), `#!/bin/bash\necho converged >"${dir}/hook-ran"\nexit "\${HOOK_EXIT:-0}"\n`, { mode: 0o755 });
    expect(fleetShell('converge_at_boot').status).toBe(0);
    expect(read('hook-ran')).toBe('converged\n');
    // Only the hook writes the marker when there is one (it writes it after every service passed its probe).
    expect(existsSync(join(dir, 'etc', 'portside-converged'))).toBe(false);
    expect(fleetShell('converge_at_boot', { HOOK_EXIT: '3' }).status).toBe(3);
  });

  test('without a hook, says so and marks the server converged (nothing to converge to)', () => {
    const r = fleetShell('converge_at_boot');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`no converge hook (${join(dir, 'bin', 'portside-converge')}): serving the seeded configuration`);
    expect(statSync(join(dir, 'etc', 'portside-converged')).mode & 0o777).toBe(0o644);
  });
});

const hasCaddy = spawnSync('sh', ['-c', 'command -v caddy']).status === 0;

(hasCaddy ? describe : describe.skip)('the Caddyfile a fleet server boots with', () => {
  test('is the one in the launch template, valid for the real Caddy 2.6.2 and fmt-clean', () => {
    const tpl = templateOf({ domain: 'example.click', hostedZoneId: 'Z0123456789ABCDEFGHIJ', servers: 2, routing: 'path' });
    const text: string = onlyResource(tpl, 'AWS::EC2::LaunchTemplate').resource.Metadata[SEED_METADATA_KEY].files.Caddyfile;
    writeFileSync(join(dir, 'Caddyfile'), text);
    const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
    const validate = spawnSync('caddy', ['validate', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { env, encoding: 'utf8' });
    expect([validate.status, validate.status === 0 ? '' : validate.stderr]).toEqual([0, '']);
    expect(spawnSync('caddy', ['fmt', join(dir, 'Caddyfile')], { env, encoding: 'utf8' }).stdout).toBe(text);
    expect(text).toContain('http://example.click {');
    expect(text).not.toMatch(/^example\.click \{/m);
  });
});
