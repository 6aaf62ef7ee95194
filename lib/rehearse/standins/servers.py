#!/usr/bin/python3
"""What only AWS provides to a booting instance, for `npm run rehearse-boot`. Runs in its own network
namespace (the "AWS side", 10.0.0.1 and 169.254.169.254), reached from the instance's namespace over a veth,
so the instance's Caddy can take *:80 as on EC2. Every request is recorded as a JSON line in /rehearsal.

  python3 servers.py CERT KEY INSTANCE_IP
"""
import http.server
import json
import os
import secrets
import socketserver
import ssl
import sys
import threading
import time
import urllib.request

REC = '/rehearsal'
CERT, KEY, INSTANCE_IP = sys.argv[1:4]
LOCK = threading.Lock()


def record(name, entry):
    entry['t'] = time.time()
    with LOCK, open(os.path.join(REC, name), 'a') as f:
        f.write(json.dumps(entry) + '\n')


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, code, body=b'', ctype='text/plain'):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n).decode('utf-8', 'replace') if n else ''


# ------------------------------------------------------------------ IMDSv2
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
#   PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1..21600) returns a session token;
#   a PUT without the TTL header is 400; every GET needs X-aws-ec2-metadata-token: with HttpTokens=required
#   (the stack sets it) a GET without a valid token is 401 Unauthorized.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-identity-documents.html (identity document)
TOKENS = {}
IDENTITY = {
    'accountId': '111122223333', 'architecture': 'x86_64', 'availabilityZone': 'us-east-1a',
    'imageId': 'ami-0rehearsal', 'instanceId': 'i-0rehearsal0000001', 'instanceType': 't3.micro',
    'privateIp': '10.0.0.10', 'region': os.environ.get('REHEARSAL_REGION', 'us-east-1'), 'version': '2017-09-30',
}
META = {
    '/latest/meta-data/instance-id': IDENTITY['instanceId'],
    '/latest/meta-data/placement/region': IDENTITY['region'],
    '/latest/meta-data/local-ipv4': IDENTITY['privateIp'],
    '/latest/meta-data/iam/security-credentials/': 'PortsideServerRole',
    '/latest/dynamic/instance-identity/document': json.dumps(IDENTITY, indent=2),
    '/latest/dynamic/instance-identity/signature': 'cmVoZWFyc2FsIHNpZ25hdHVyZQ==',
}


class Imds(Quiet):
    def do_PUT(self):
        ttl = self.headers.get('X-aws-ec2-metadata-token-ttl-seconds')
        code = 200
        if self.path != '/latest/api/token':
            code = 404
        elif ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            code = 400
        record('imds.jsonl', {'method': 'PUT', 'path': self.path, 'ttl': ttl, 'status': code})
        if code != 200:
            return self.reply(code, '')
        token = secrets.token_urlsafe(32)
        TOKENS[token] = time.time() + int(ttl)
        self.reply(200, token)

    def do_GET(self):
        token = self.headers.get('X-aws-ec2-metadata-token')
        valid = token is not None and TOKENS.get(token, 0) > time.time()
        code = 401 if not valid else (200 if self.path in META else 404)
        record('imds.jsonl', {'method': 'GET', 'path': self.path, 'token': token is not None, 'status': code})
        self.reply(code, META.get(self.path, '') if code == 200 else '')


# ------------------------------------------------------------------ wait condition handle, apt repository keys
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-waitcondition.html
#   The handle's presigned URL takes a PUT of {"Status": "SUCCESS"|"FAILURE", "Reason", "UniqueId", "Data"};
#   the wait condition's Data attribute is keyed by UniqueId, so one UniqueId counts once.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html (4,096-byte signal)
# The repositories' signing keys (https://caddyserver.com/docs/install#debian-ubuntu-raspbian,
# https://github.com/nodesource/distributions) are served as armored blocks: the rehearsal installs no package.
SIGNAL_HOST = 'cloudformation-waitcondition-us-east-1.s3.amazonaws.com'


def armor(data):
    """RFC 4880 section 6: base64 lines and a CRC-24 checksum (gpg --dearmor checks it)."""
    import base64
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    b64 = base64.b64encode(data).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    crc_b64 = base64.b64encode((crc & 0xFFFFFF).to_bytes(3, 'big')).decode()
    return '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n' + '\n'.join(lines) + '\n=' + crc_b64 + '\n-----END PGP PUBLIC KEY BLOCK-----\n'


ARMORED_KEY = armor(b'rehearsal: not a real key; apt never reads it here')


def probe_caddy():
    """What the internet would see at the moment of the signal: an HTTP answer on the instance's :80."""
    try:
        with urllib.request.urlopen(f'http://{INSTANCE_IP}:80/', timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


class Tls(Quiet):
    def do_PUT(self):
        host = (self.headers.get('Host') or '').split(':')[0]
        body = self.body()
        if host != SIGNAL_HOST:
            return self.reply(404)
        entry = {'path': self.path, 'contentType': self.headers.get('Content-Type'), 'bytes': len(body.encode()), 'body': body}
        try:
            doc = json.loads(body)
            entry['status'] = doc.get('Status')
            entry['caddyStatus'] = probe_caddy()
            ok = doc.get('Status') in ('SUCCESS', 'FAILURE') and len(body.encode()) <= 4096
        except ValueError:
            ok = False
        entry['accepted'] = ok
        record('signals.jsonl', entry)
        self.reply(200 if ok else 400)

    def do_GET(self):
        host = (self.headers.get('Host') or '').split(':')[0]
        known = host in ('deb.nodesource.com',) and self.path.endswith(('.key', '/gpg.key'))
        record('repo.jsonl', {'host': host, 'path': self.path, 'status': 200 if known else 404})
        self.reply(200 if known else 404, ARMORED_KEY if known else '')


class Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    imds = Threaded(('0.0.0.0', 80), Imds)
    tls = Threaded(('0.0.0.0', 443), Tls)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (imds, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    open(os.path.join(REC, 'servers.ready'), 'w').close()
    threading.Event().wait()


main()
