#!/usr/bin/python3
"""Stand-ins for what only Ubuntu and AWS provide on a booting instance, for `npm run rehearse-boot`.
One file, dispatched on the name it is called by (/usr/local/bin/<tool> links here inside the rehearsal's
overlay). Each records its calls as JSON lines in /rehearsal/calls.jsonl and fails when
/rehearsal/faults.json asks it to ({"tool", "match" (a regex on the joined arguments), "times", "exit", "stderr"}).
"""
import configparser
import fcntl
import glob
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

REC = '/rehearsal'
HERE = os.path.realpath(__file__)
STATE = '/run/rehearsal-systemd'
# systemd's manager environment: what units (and so a systemd-run command) start with.
UNIT_ENV = {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8'}


def record(tool, args, **extra):
    line = json.dumps({'tool': tool, 'args': args, 't': time.time(), **extra})
    with open(os.path.join(REC, 'calls.jsonl'), 'a') as f:
        f.write(line + '\n')


def injected_fault(tool, args):
    """The first matching fault with attempts left (counted across processes under a lock), or None."""
    path = os.path.join(REC, 'faults.json')
    if not os.path.exists(path):
        return None
    with open(path, 'r+') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        faults = json.load(f)
        joined = ' '.join(args)
        for fault in faults:
            if fault['tool'] == tool and re.search(fault['match'], joined) and fault.get('times', -1) != 0:
                if fault.get('times', -1) > 0:
                    fault['times'] -= 1
                f.seek(0)
                f.truncate()
                json.dump(faults, f)
                return fault
    return None


def fail_if_injected(tool, args):
    fault = injected_fault(tool, args)
    if fault:
        record(tool, args, injected=True, exit=fault.get('exit', 1))
        sys.stderr.write(fault.get('stderr', f'{tool}: failed (rehearsal fault)') + '\n')
        sys.exit(fault.get('exit', 1))


# ------------------------------------------------------------------ apt-get / apt (the Ubuntu archive, the PPAs)
# https://manpages.ubuntu.com/manpages/noble/man8/apt-get.8.html: `update` refreshes the lists under
# /var/lib/apt/lists (its lock is the lists lock, which DPkg::Lock::Timeout does not cover), `install` installs.
# Nothing is installed: caddy, node, npm and pm2 already resolve to this machine's binaries through the overlay.
def apt_get(tool, args):
    fail_if_injected(tool, args)
    words = [a for a in args if not a.startswith('-')]
    opts = [a for i, a in enumerate(args) if a.startswith('-') or (i and args[i - 1] == '-o')]
    words = [w for w in words if w not in opts]
    verb = words[0] if words else ''
    if verb == 'update':
        record(tool, args, verb='update')
        print('Reading package lists... Done (rehearsal: no repository was contacted)')
    elif verb == 'install':
        record(tool, args, verb='install', packages=words[1:])
        print('rehearsal: would install ' + ' '.join(words[1:]))
    else:
        record(tool, args, verb=verb, exit=100)
        sys.stderr.write(f'E: rehearsal {tool}: "{verb}" is not emulated\n')
        sys.exit(100)


# ------------------------------------------------------------------ cloud-init
# https://docs.cloud-init.io/en/latest/reference/cli.html#status: `status --wait` blocks until cloud-init is
# done, prints "status: done"; exit codes (https://docs.cloud-init.io/en/latest/explanation/return_codes.html):
# 0 done, 1 a critical error, 2 done with recoverable errors. Here the image's own stages have finished.
def cloud_init(args):
    fail_if_injected('cloud-init', args)
    record('cloud-init', args)
    if args[:1] == ['status']:
        print('status: done')
        return
    sys.stderr.write('rehearsal cloud-init: only `status` is emulated\n')
    sys.exit(1)


# ------------------------------------------------------------------ ufw (preinstalled on Ubuntu)
# https://manpages.ubuntu.com/manpages/noble/man8/ufw.8.html; the rehearsal's namespace keeps no rules.
def ufw(args):
    fail_if_injected('ufw', args)
    record('ufw', args)
    print('Rules updated (rehearsal)' if 'allow' in args or 'deny' in args else 'Firewall is active and enabled on system startup')


# ------------------------------------------------------------------ sleep: backoff passes at once
# The stub's and the bootstrap's retry back off for minutes; the rehearsal records those waits and skips them.
# Sub-second sleeps (polling loops) are real.
def fake_sleep(args):
    total = 0.0
    for a in args:
        m = re.fullmatch(r'([0-9.]+)([smhd]?)', a)
        if not m:
            os.execv('/usr/bin/sleep', ['sleep', *args])
        total += float(m.group(1)) * {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}[m.group(2)]
    if total >= 1:
        record('sleep', args, skipped=total)
        return
    time.sleep(total)


# ------------------------------------------------------------------ python3 -m venv, pip (the helpers' download from S3)
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/cfn-helper-scripts-reference.html:
# on Ubuntu the helpers come from aws-cfn-bootstrap-py3-latest.tar.gz, installed with pip into a venv.
# The venv is real (this machine's python3); its pip installs a stand-in package: a dist-info with the
# version the rehearsal asks for (the stub checks it with importlib.metadata) and the four helpers.
def python3(args):
    if len(args) >= 3 and args[0] == '-m' and args[1] == 'venv':
        target = args[-1]
        subprocess.run(['/usr/bin/python3', '-m', 'venv', '--without-pip', *args[2:]], check=True)
        os.symlink(HERE, os.path.join(target, 'bin', 'pip'))
        record('python3', args, venv=target)
        return
    os.execv('/usr/bin/python3', ['python3', *args])


def pip(argv0, args):
    fail_if_injected('pip', args)
    venv = os.path.dirname(os.path.dirname(os.path.abspath(argv0)))
    urls = [a for a in args if a.endswith('aws-cfn-bootstrap-py3-latest.tar.gz')]
    if args[:1] != ['install'] or not urls:
        record('pip', args, exit=1)
        sys.stderr.write('ERROR: rehearsal pip installs only aws-cfn-bootstrap-py3-latest.tar.gz\n')
        sys.exit(1)
    version = json.load(open(os.path.join(REC, 'config.json'))).get('cfnBootstrapVersion', '2.0.post33')
    site = os.path.join(venv, 'lib', f'python{sys.version_info[0]}.{sys.version_info[1]}', 'site-packages')
    dist = os.path.join(site, f'aws_cfn_bootstrap-{version}.dist-info')
    os.makedirs(dist, exist_ok=True)
    with open(os.path.join(dist, 'METADATA'), 'w') as f:
        f.write(f'Metadata-Version: 2.1\nName: aws-cfn-bootstrap\nVersion: {version}\n')
    for helper in ('cfn-get-metadata', 'cfn-signal', 'cfn-hup', 'cfn-init'):
        link = os.path.join(venv, 'bin', helper)
        if not os.path.lexists(link):
            os.symlink(HERE, link)
    record('pip', args, installed=f'aws-cfn-bootstrap {version}')


# ------------------------------------------------------------------ the CloudFormation helpers
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/cfn-get-metadata.html: prints the
# resource's metadata (or one top-level key of it) as JSON; without credentials CloudFormation checks that
# the caller is an instance of the stack (the helpers prove it with the instance identity document, read
# from IMDSv2: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html).
def imds_identity():
    req = urllib.request.Request('http://169.254.169.254/latest/api/token', method='PUT',
                                 headers={'X-aws-ec2-metadata-token-ttl-seconds': '21600'})
    token = urllib.request.urlopen(req, timeout=2).read().decode()
    get = lambda p: urllib.request.urlopen(urllib.request.Request(  # noqa: E731
        'http://169.254.169.254' + p, headers={'X-aws-ec2-metadata-token': token}), timeout=2).read().decode()
    get('/latest/dynamic/instance-identity/signature')
    return json.loads(get('/latest/dynamic/instance-identity/document'))


def describe_resource_metadata(stack, resource, region):
    """DescribeStackResource, as the helpers call it: the resource's Metadata, or an error line and exit 1."""
    identity = imds_identity()
    with open(os.path.join(REC, 'stack.json')) as f:
        state = json.load(f)
    if stack != state['stackName'] or (region or identity['region']) != state['region']:
        sys.stderr.write(f'ValidationError: Stack with id {stack} does not exist\n')
        sys.exit(1)
    if resource not in state['resources']:
        sys.stderr.write(f'ValidationError: Resource {resource} does not exist for stack {stack}\n')
        sys.exit(1)
    return state['resources'][resource].get('Metadata', {})


def parse_opts(args, names):
    opts, i = {}, 0
    while i < len(args):
        a = args[i]
        key = names.get(a.split('=')[0])
        if key and '=' in a:
            opts[key] = a.split('=', 1)[1]
        elif key:
            opts[key] = args[i + 1] if i + 1 < len(args) else ''
            i += 1
        else:
            opts.setdefault('_', []).append(a)
        i += 1
    return opts


def cfn_get_metadata(args):
    fail_if_injected('cfn-get-metadata', args)
    o = parse_opts(args, {'-s': 'stack', '--stack': 'stack', '-r': 'resource', '--resource': 'resource',
                          '--region': 'region', '-k': 'key', '--key': 'key', '-u': 'url', '--url': 'url'})
    if not o.get('stack') or not o.get('resource'):
        sys.stderr.write('Error: You must specify both a stack name and logical resource id\n')
        sys.exit(1)
    meta = describe_resource_metadata(o['stack'], o['resource'], o.get('region'))
    if o.get('key'):
        if o['key'] not in meta:
            record('cfn-get-metadata', args, exit=1)
            sys.stderr.write(f'Error: {o["key"]} is not present in the metadata\n')
            sys.exit(1)
        meta = meta[o['key']]
    record('cfn-get-metadata', args, key=o.get('key'))
    print(json.dumps(meta, indent=4))


# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/cfn-hup.html: reads
# /etc/cfn/cfn-hup.conf ([main] stack, region, interval) and hooks from /etc/cfn/hooks.conf and
# /etc/cfn/hooks.d/*.conf (triggers, path, action, runas); when the metadata at a hook's path changes
# (post.update) it runs the action with a shell as `runas`. `--no-daemon`: "run the cfn-hup script once and
# exit". The last metadata seen is kept under /var/lib/cfn-hup/data; a hook's first sight of a path only
# records it (an assumption: the documentation does not say what the first check does).
def cfn_hup(args):
    fail_if_injected('cfn-hup', args)
    if '--no-daemon' not in args:
        sys.stderr.write('rehearsal cfn-hup: only --no-daemon (one check, then exit) is emulated\n')
        sys.exit(1)
    conf_dir = parse_opts(args, {'-c': 'dir', '--config': 'dir'}).get('dir', '/etc/cfn')
    main = configparser.ConfigParser()
    main.read(os.path.join(conf_dir, 'cfn-hup.conf'))
    stack, region = main.get('main', 'stack'), main.get('main', 'region', fallback=None)
    hooks = configparser.ConfigParser()
    hooks.read([os.path.join(conf_dir, 'hooks.conf'), *sorted(glob.glob(os.path.join(conf_dir, 'hooks.d', '*.conf')))])
    db_path = '/var/lib/cfn-hup/data/metadata_db.json'
    os.makedirs(os.path.dirname(db_path), exist_ok=True)
    db = json.load(open(db_path)) if os.path.exists(db_path) else {}
    ran = []
    for name in hooks.sections():
        h = hooks[name]
        if 'post.update' not in [t.strip() for t in h.get('triggers', '').split(',')]:
            continue
        parts = h['path'].split('.')
        if len(parts) < 3 or parts[0] != 'Resources' or parts[2] != 'Metadata':
            sys.stderr.write(f'rehearsal cfn-hup: hook {name}: path {h["path"]} is not Resources.<id>.Metadata[...]\n')
            sys.exit(1)
        value = describe_resource_metadata(stack, parts[1], region)
        for p in parts[3:]:
            value = value.get(p) if isinstance(value, dict) else None
        text = json.dumps(value, sort_keys=True)
        if name in db and db[name] != text:
            runas = h.get('runas', 'root')
            cmd = ['/bin/sh', '-c', h['action']] if runas == 'root' else ['runuser', '-u', runas, '--', '/bin/sh', '-c', h['action']]
            code = subprocess.run(cmd).returncode
            ran.append({'hook': name, 'exit': code})
        db[name] = text
    with open(db_path + '.tmp', 'w') as f:
        json.dump(db, f)
    os.replace(db_path + '.tmp', db_path)
    record('cfn-hup', args, hooksRun=ran)


# ------------------------------------------------------------------ systemd: systemctl, systemd-run
# https://www.freedesktop.org/software/systemd/man/latest/systemctl.html,
# https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html (Type=oneshot: start waits for
# the process to exit; Type=notify: start waits for READY=1 on $NOTIFY_SOCKET, see
# https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html), User=/Group=/AmbientCapabilities=,
# https://www.freedesktop.org/software/systemd/man/latest/systemd.unit.html ([Install] WantedBy= links),
# https://www.freedesktop.org/software/systemd/man/latest/systemd-run.html (a transient service from a command;
# it starts with the manager's environment, not the caller's). Not emulated: sandboxing (PrivateTmp,
# ProtectSystem), limits, dependencies and ordering, timers' schedules (the rehearsal starts a timer's service).
UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system']


def unit_name(u):
    return u if re.search(r'\.(service|timer|target|socket|path)$', u) else u + '.service'


def unit_file(u):
    for d in UNIT_DIRS:
        if os.path.exists(os.path.join(d, u)):
            return os.path.join(d, u)
    return None


def parse_unit(path):
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=('=',))
    cp.optionxform = str
    with open(path) as f:
        cp.read_string(f.read())
    return cp


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def state_read(u, what):
    try:
        with open(os.path.join(STATE, f'{u}.{what}')) as f:
            return f.read().strip()
    except OSError:
        return None


def state_write(u, what, value):
    os.makedirs(STATE, exist_ok=True)
    with open(os.path.join(STATE, f'{u}.{what}'), 'w') as f:
        f.write(str(value))


def service_command(svc, line):
    line = line.lstrip('-@+!:')
    cmd = line.split()
    env = dict(UNIT_ENV)
    for e in svc.get('Environment', '').split():
        if '=' in e:
            k, v = e.strip('"').split('=', 1)
            env[k] = v
    user = svc.get('User')
    if user:
        pw = pwd.getpwnam(user)
        env.update(HOME=pw.pw_dir, USER=user, LOGNAME=user)
        pre = ['setpriv', f'--reuid={user}', f'--regid={svc.get("Group", user)}', '--init-groups']
        caps = [c.lower().replace('cap_', '') for c in svc.get('AmbientCapabilities', '').split()]
        if caps:
            spec = ','.join('+' + c for c in caps)
            pre += [f'--inh-caps={spec}', f'--ambient-caps={spec}']
        cmd = pre + ['--'] + cmd
    else:
        env['HOME'] = '/root'
    return cmd, env


def journal(u):
    os.makedirs(os.path.join(REC, 'journal'), exist_ok=True)
    return open(os.path.join(REC, 'journal', u + '.log'), 'ab')


def start_unit(u):
    path = unit_file(u)
    if not path:
        sys.stderr.write(f'Failed to start {u}: Unit {u} not found.\n')
        return 5
    if u.endswith('.timer'):
        state_write(u, 'active', 'active')
        return 0
    svc = parse_unit(path)['Service']
    kind = svc.get('Type', 'simple')
    started = time.time()
    if kind == 'oneshot':
        for line in [l for l in svc.get('ExecStart', '').split('\n') if l.strip()]:
            cmd, env = service_command(svc, line)
            code = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=journal(u), stderr=subprocess.STDOUT).returncode
            if code != 0:
                state_write(u, 'result', f'exit-code {code}')
                sys.stderr.write(f'Job for {u} failed because the control process exited with error code.\n')
                return 1
        state_write(u, 'result', 'success')
        record('systemctl', ['(oneshot finished)', u], seconds=round(time.time() - started, 3))
        return 0
    cmd, env = service_command(svc, svc['ExecStart'])
    sock = None
    if kind == 'notify':
        sock_path = os.path.join(STATE, u + '.notify')
        os.makedirs(STATE, exist_ok=True)
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        os.chmod(sock_path, 0o777)
        env['NOTIFY_SOCKET'] = sock_path
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=journal(u), stderr=subprocess.STDOUT, start_new_session=True)
    state_write(u, 'pid', p.pid)
    if sock:
        sock.settimeout(0.2)
        deadline = time.time() + 30
        while time.time() < deadline:
            if p.poll() is not None:
                sys.stderr.write(f'Job for {u} failed because the control process exited with error code.\n')
                return 1
            try:
                if b'READY=1' in sock.recv(4096):
                    return 0
            except socket.timeout:
                pass
        sys.stderr.write(f'Job for {u} failed because a timeout was exceeded.\n')
        return 1
    return 0


def systemctl(args):
    fail_if_injected('systemctl', args)
    record('systemctl', args)
    flags = [a for a in args if a.startswith('-')]
    words = [a for a in args if not a.startswith('-')]
    verb, units = (words[0] if words else ''), [unit_name(u) for u in words[1:]]
    code = 0
    if verb == 'daemon-reload':
        pass
    elif verb == 'enable':
        for u in units:
            path = unit_file(u)
            if not path:
                sys.stderr.write(f'Failed to enable unit: Unit file {u} does not exist.\n')
                return 1
            cp = parse_unit(path)
            for target in (cp['Install'].get('WantedBy', '').split() if cp.has_section('Install') else []):
                wants = f'/etc/systemd/system/{target}.wants'
                os.makedirs(wants, exist_ok=True)
                if not os.path.lexists(os.path.join(wants, u)):
                    os.symlink(path, os.path.join(wants, u))
                    print(f'Created symlink {wants}/{u} → {path}.')
            if '--now' in flags:
                code = code or start_unit(u)
    elif verb in ('start', 'restart'):
        for u in units:
            if verb == 'restart':
                stop_unit(u)
            code = code or start_unit(u)
    elif verb == 'stop':
        for u in units:
            stop_unit(u)
    elif verb == 'reload':
        for u in units:
            svc = parse_unit(unit_file(u))['Service']
            cmd, env = service_command(svc, svc['ExecReload'])
            code = code or subprocess.run(cmd, env=env, stdout=journal(u), stderr=subprocess.STDOUT).returncode
    elif verb == 'is-active':
        active = all(is_active(u) for u in units)
        if '--quiet' not in flags and '-q' not in flags:
            print('active' if active else 'inactive')
        code = 0 if active else 3
    elif verb == 'is-enabled':
        code = 0 if any(os.path.lexists(p) for p in glob.glob(f'/etc/systemd/system/*.wants/{units[0]}')) else 1
    else:
        sys.stderr.write(f'rehearsal systemctl: "{verb}" is not emulated\n')
        code = 1
    return code


def is_active(u):
    if u.endswith('.timer'):
        return state_read(u, 'active') == 'active'
    pid = state_read(u, 'pid')
    return bool(pid) and alive(int(pid))


def stop_unit(u):
    pid = state_read(u, 'pid')
    if pid and alive(int(pid)):
        os.killpg(int(pid), signal.SIGTERM)


def systemd_run(args):
    fail_if_injected('systemd-run', args)
    i, unit, props, setenv = 0, None, [], {}
    while i < len(args) and args[i].startswith('-'):
        a = args[i]
        if a.startswith('--unit='):
            unit = a.split('=', 1)[1]
        elif a.startswith('--property=') or a.startswith('-p'):
            props.append(a.split('=', 1)[1] if a.startswith('--') else args[i + 1])
            i += 0 if a.startswith('--') else 1
        elif a.startswith('--setenv='):
            k, v = a.split('=', 1)[1].split('=', 1)
            setenv[k] = v
        i += 1
    cmd = args[i:]
    u = unit_name(unit or f'run-rehearsal{os.getpid()}')
    record('systemd-run', args, unit=u, properties=props, command=cmd)
    if os.fork() == 0:
        # The transient unit's process: a new session, the manager's environment, output to its journal.
        os.setsid()
        p = subprocess.Popen(cmd, env={**UNIT_ENV, **setenv}, stdin=subprocess.DEVNULL, stdout=journal(u), stderr=subprocess.STDOUT, cwd='/')
        state_write(u, 'pid', p.pid)
        code = p.wait()
        state_write(u, 'exit', code)
        os._exit(0)
    deadline = time.time() + 5
    while state_read(u, 'pid') is None and time.time() < deadline:
        time.sleep(0.01)
    sys.stderr.write(f'Running as unit: {u}\n')
    return 0


def main():
    argv0 = sys.argv[0]
    tool, args = os.path.basename(argv0), sys.argv[1:]
    if tool in ('apt-get', 'apt'):
        apt_get(tool, args)
    elif tool == 'cloud-init':
        cloud_init(args)
    elif tool == 'ufw':
        ufw(args)
    elif tool == 'sleep':
        fake_sleep(args)
    elif tool == 'python3':
        python3(args)
    elif tool == 'pip':
        pip(argv0, args)
    elif tool == 'cfn-get-metadata':
        cfn_get_metadata(args)
    elif tool == 'cfn-hup':
        cfn_hup(args)
    elif tool in ('cfn-signal', 'cfn-init'):
        record(tool, args)
    elif tool == 'systemctl':
        sys.exit(systemctl(args))
    elif tool == 'systemd-run':
        sys.exit(systemd_run(args))
    else:
        sys.stderr.write(f'rehearsal: no stand-in called {tool}\n')
        sys.exit(127)


main()
