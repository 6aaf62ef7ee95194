import { spawnSync } from 'node:child_process';
import { createServer, IncomingMessage, Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ASSETS_DIR, readUserDataStub } from '../../lib/bootstrap';

const SCRIPT = join(ASSETS_DIR, 'bootstrap.sh');
const STUB = join(ASSETS_DIR, 'user-data.sh');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const asRoot = process.getuid?.() === 0;

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'portside-fn-')); });
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A fake command in root/bin: a bash body. */
function fake(name: string, body: string): string {
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(join(root, 'bin', name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  return join(root, 'bin', name);
}

/** Source the bootstrap (which then runs nothing) and run `code` in the same shell. */
function withBootstrap(code: string, env: Record<string, string> = {}) {
  return spawnSync('bash', ['-c', `. ${JSON.stringify(SCRIPT)}\n${code}`], {
    env: {
      PATH: `${join(root, 'bin')}:${process.env.PATH}`, PORTSIDE_USER: 'root', PORTSIDE_WWW: join(root, 'www'),
      PORTSIDE_CADDY_DIR: join(root, 'etc'), PORTSIDE_HOME: root, PORTSIDE_LOG: join(root, 'log'), PORTSIDE_RETRY_DELAYS: '0 0',
      PORTSIDE_STACK: 'Portside', PORTSIDE_REGION: 'us-east-1', PORTSIDE_RESOURCE: 'ServerInstanceX', PORTSIDE_CFN_BIN: join(root, 'bin'),
      ...env,
    },
    encoding: 'utf8',
    timeout: 30_000,
    // Not a pipe: bash reads ~/.bashrc when its stdin is a socket (node's pipes are), as if started by sshd.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A loopback HTTP server that records every request (the wait condition handle's presigned URL stand-in). */
async function signalSink(): Promise<{ url: string; requests: Array<{ method: string; headers: IncomingMessage['headers']; body: string }>; server: Server }> {
  const requests: Array<{ method: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => { requests.push({ method: req.method!, headers: req.headers, body }); res.end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/signal?X-Amz-Signature=abc`, requests, server };
}

(asRoot ? describe : describe.skip)('bootstrap.sh functions (sourced, with fakes)', () => {
  test('cfn-hup runs once per minute from a timer: a oneshot service, as `--no-daemon` runs once and exits', () => {
    const r = withBootstrap('cfn_hup_service; echo ---; cfn_hup_timer');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe([
      '[Unit]',
      'Description=cfn-hup, once (applies CloudFormation metadata changes; started by cfn-hup.timer)',
      'After=network-online.target',
      'Wants=network-online.target',
      '',
      '[Service]',
      'Type=oneshot',
      `ExecStart=${join(root, 'bin')}/cfn-hup --no-daemon`,
      '---',
      '[Unit]',
      'Description=Run cfn-hup once a minute',
      '',
      '[Timer]',
      'OnBootSec=1min',
      'OnUnitInactiveSec=1min',
      '',
      '[Install]',
      'WantedBy=timers.target',
      '',
    ].join('\n'));
    expect(r.stdout).not.toContain('Restart=');
  });

  test('a metadata fetch that fails once and is retried captures the JSON exactly (retry logs to stderr)', () => {
    const json = JSON.stringify({ version: 1, files: { 'registry.json': '{"services":{}}\n', Caddyfile: ':80 {\n}\n', 'index.html': '<h1>hi</h1>\n' } });
    writeFileSync(join(root, 'metadata.json'), json);
    fake('cfn-get-metadata', [
      `if [ ! -e ${root}/failed-once ]; then touch ${root}/failed-once; echo "Throttling" >&2; exit 1; fi`,
      `cat ${root}/metadata.json`,
    ].join('\n'));
    const r = withBootstrap(`captured="$(retry cfn-get-metadata --key Portside)"; printf '%s' "$captured" > ${root}/captured\nrm ${root}/failed-once\nfetch_declared ${root}/seed`);
    expect(r.status).toBe(0);
    expect(readFileSync(join(root, 'captured'), 'utf8')).toBe(json);
    expect(r.stderr).toContain('attempt 1 of 3 failed');
    expect(readFileSync(join(root, 'seed', 'Caddyfile'), 'utf8')).toBe(':80 {\n}\n');
    expect(readFileSync(join(root, 'seed', 'index.html'), 'utf8')).toBe('<h1>hi</h1>\n');
  });

  test('apt-get update waits out a held lists lock by retrying; the default backoff lasts over 3 minutes', () => {
    fake('apt-get', [
      `n=$(cat ${root}/n 2>/dev/null || echo 0); echo $((n + 1)) > ${root}/n`,
      '[ "$n" -ge 2 ] || { echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 812 (apt-get)" >&2; exit 100; }',
    ].join('\n'));
    const r = withBootstrap('apt_update');
    expect(r.status).toBe(0);
    expect(readFileSync(join(root, 'n'), 'utf8')).toBe('3\n');
    const sum = (s: string) => s.trim().split(/\s+/).reduce((a, d) => a + Number(d), 0);
    const defaults = spawnSync('bash', ['-c', `grep -o 'PORTSIDE_RETRY_DELAYS:-[0-9 ]*' ${JSON.stringify(SCRIPT)}`], { encoding: 'utf8' }).stdout;
    expect(sum(defaults.replace('PORTSIDE_RETRY_DELAYS:-', ''))).toBeGreaterThanOrEqual(180);
  });

  test('the boot signal is a PUT of Status/Reason/UniqueId/Data with an empty Content-Type, under 4,000 bytes', async () => {
    const sink = await signalSink();
    try {
      const longLog = Array.from({ length: 400 }, (_, i) => `line ${i} "quoted" \\ \t ü`).join('\n');
      writeFileSync(join(root, 'tail'), longLog);
      const r = await new Promise<ReturnType<typeof spawnSync>>((resolve) => {
        // Async spawn: the sink answers on this process's event loop.
        const { spawn } = require('node:child_process');
        const child = spawn('bash', ['-c', `. ${JSON.stringify(SCRIPT)}\nsignal_wait_condition FAILURE 'Portside bootstrap failed at step "x": ' "$(cat ${root}/tail)"`], {
          // The mark that silences the stub's own signal: in the test's folder, never this machine's /var/lib.
          env: { PATH: process.env.PATH, PORTSIDE_USER: 'root', PORTSIDE_WWW: root, PORTSIDE_CADDY_DIR: root, PORTSIDE_SIGNAL_URL: sink.url, PORTSIDE_RETRY_DELAYS: '0',
            PORTSIDE_SIGNALLED_MARK: join(root, 'signalled', 'boot-signalled') },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => { stderr += c; });
        child.on('close', (status: number) => resolve({ status, stderr } as never));
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(sink.requests).toHaveLength(1);
      expect(existsSync(join(root, 'signalled', 'boot-signalled'))).toBe(true);
      const [req] = sink.requests;
      expect(req.method).toBe('PUT');
      expect(req.headers['content-type'] ?? '').toBe('');
      expect(Buffer.byteLength(req.body)).toBeLessThanOrEqual(4000);
      const body = JSON.parse(req.body);
      expect(Object.keys(body).sort()).toEqual(['Data', 'Reason', 'Status', 'UniqueId']);
      expect(body).toEqual(expect.objectContaining({ Status: 'FAILURE', UniqueId: 'portside-boot', Data: 'FAILURE' }));
      // The step's name is kept whole; the oldest log lines are the ones dropped.
      expect(body.Reason.startsWith('Portside bootstrap failed at step "x": ')).toBe(true);
      expect(body.Reason.endsWith('line 399 "quoted" \\ \t ü')).toBe(true);
    } finally {
      sink.server.close();
    }
  });
});

describe('the UserData stub (assets/user-data.sh)', () => {
  test('is shellcheck-clean', () => {
    if (!has('shellcheck')) return;
    const r = spawnSync('shellcheck', ['--severity=style', STUB], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
  });

  test('waits for cloud-init outside cloud-init, and backs apt off for over 3 minutes', () => {
    const stub = readUserDataStub();
    expect(stub).toContain('systemd-run --no-block --unit=portside-boot');
    expect(stub).toContain('cloud-init status --wait');
    expect(stub.indexOf('cloud-init status --wait')).toBeLessThan(stub.indexOf('apt-get -o'));
    const delays = /for d in ([0-9 ]+); do/.exec(stub)![1].trim().split(' ').map(Number);
    expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(180);
    expect(stub).toContain('(2, 0, 33)');
  });
});

const canIsolate = asRoot && has('unshare') && has('python3') && has('curl');
(canIsolate ? describe : describe.skip)('the UserData stub, run with fakes in a private mount namespace', () => {
  /** Run the stub as root with /opt, /var/log and /var/lib on scratch tmpfs; resolves when it exits. */
  function runStub(args: string[], env: Record<string, string>, setup = ''): Promise<{ status: number; stderr: string }> {
    const { spawn } = require('node:child_process');
    return new Promise((resolve) => {
      const child = spawn('unshare', ['-m', 'bash', '-c', [
        'mount -t tmpfs none /opt && mount -t tmpfs none /var/log && mount -t tmpfs none /var/lib',
        setup,
        `bash ${JSON.stringify(STUB)} ${args.join(' ')}; code=$?; cp -r /var/lib ${root}/var-lib 2>/dev/null; cp /var/log/portside-bootstrap.log ${root}/log 2>/dev/null; exit $code`,
      ].join('\n')], {
        env: {
          PATH: `${join(root, 'bin')}:${process.env.PATH}`, PORTSIDE_STACK: 'Portside', PORTSIDE_REGION: 'us-east-1',
          PORTSIDE_RESOURCE: 'ServerInstanceX', PORTSIDE_BOOTSTRAP_KEY: 'PortsideBootstrap', ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c; });
      child.on('close', (status: number) => resolve({ status, stderr }));
    });
  }

  test('a failure before any helper is installed signals the wait condition with the step and the log', async () => {
    const sink = await signalSink();
    try {
      fake('systemd-run', 'echo "Failed to connect to bus: No such file or directory" >&2; exit 1');
      const r = await runStub([], { PORTSIDE_SIGNAL_URL: sink.url });
      expect(r.status).not.toBe(0);
      expect(sink.requests).toHaveLength(1);
      const body = JSON.parse(sink.requests[0].body);
      expect(body).toEqual(expect.objectContaining({ Status: 'FAILURE', UniqueId: 'portside-boot' }));
      expect(body.Reason).toMatch(/^Portside boot failed at step "start outside cloud-init" \(exit 1\); last lines of \/var\/log\/portside-bootstrap.log: /);
    } finally {
      sink.server.close();
    }
  });

  test('detached: refuses aws-cfn-bootstrap older than 2.0-33 (Python 3.12), saying so in the signal', async () => {
    const sink = await signalSink();
    try {
      fake('cloud-init', 'exit 0');
      fake('apt-get', 'exit 0');
      const setup = [
        'mkdir -p /opt/aws/venv/bin /opt/aws/site/aws_cfn_bootstrap-2.0.post31.dist-info',
        "printf '#!/bin/bash\\n' > /opt/aws/venv/bin/cfn-get-metadata",
        "printf 'Metadata-Version: 2.1\\nName: aws-cfn-bootstrap\\nVersion: 2.0.post31\\n' > /opt/aws/site/aws_cfn_bootstrap-2.0.post31.dist-info/METADATA",
        `printf '#!/bin/bash\\nPYTHONPATH=/opt/aws/site exec python3 "$@"\\n' > /opt/aws/venv/bin/python`,
        'chmod +x /opt/aws/venv/bin/*',
      ].join('\n');
      const r = await runStub(['--detached'], { PORTSIDE_SIGNAL_URL: sink.url }, setup);
      expect(r.status).not.toBe(0);
      expect(sink.requests).toHaveLength(1);
      const { Reason } = JSON.parse(sink.requests[0].body);
      expect(Reason).toMatch(/^Portside boot failed at step "install the CloudFormation helpers" \(exit 1\); last lines of /);
      expect(Reason).toContain('aws-cfn-bootstrap 2.0.post31 < 2.0-33');
    } finally {
      sink.server.close();
    }
  });

  test('detached: waits for cloud-init, installs, fetches the bootstrap from the metadata and runs it', async () => {
    const sink = await signalSink();
    try {
      fake('cloud-init', `echo "$*" >> ${root}/calls`);
      fake('apt-get', `echo "apt-get $*" >> ${root}/calls`);
      const meta = JSON.stringify({ version: 1, script: '#!/bin/bash\necho "bootstrap ran: $PORTSIDE_LOGGED" > /var/lib/ran\n' });
      writeFileSync(join(root, 'meta.json'), meta);
      // Helpers already in the venv (as after a first attempt): the stub only checks their version.
      const setup = [
        'mkdir -p /opt/aws/venv/bin',
        `printf '#!/bin/bash\\n[ "$*" = "--stack Portside --resource ServerInstanceX --region us-east-1 --key PortsideBootstrap" ] || exit 3\\ncat ${root}/meta.json\\n' > /opt/aws/venv/bin/cfn-get-metadata`,
        // The venv's python sees an installed aws-cfn-bootstrap 2.0.post33 (how pip names 2.0-33).
        'mkdir -p /opt/aws/site/aws_cfn_bootstrap-2.0.post33.dist-info',
        "printf 'Metadata-Version: 2.1\\nName: aws-cfn-bootstrap\\nVersion: 2.0.post33\\n' > /opt/aws/site/aws_cfn_bootstrap-2.0.post33.dist-info/METADATA",
        `printf '#!/bin/bash\\nPYTHONPATH=/opt/aws/site exec python3 "$@"\\n' > /opt/aws/venv/bin/python`,
        'chmod +x /opt/aws/venv/bin/*',
      ].join('\n');
      const r = await runStub(['--detached'], { PORTSIDE_SIGNAL_URL: sink.url }, setup);
      const log = readFileSync(join(root, 'log'), 'utf8');
      expect([r.status, log]).toEqual([0, expect.any(String)]);
      expect(readFileSync(join(root, 'var-lib', 'ran'), 'utf8')).toBe('bootstrap ran: 1\n');
      const calls = readFileSync(join(root, 'calls'), 'utf8').split('\n');
      expect(calls[0]).toBe('status --wait');
      expect(calls[1]).toBe('apt-get -o DPkg::Lock::Timeout=600 -q update');
      expect(sink.requests).toHaveLength(0);
    } finally {
      sink.server.close();
    }
  });
});
