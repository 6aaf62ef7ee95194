'use strict';
// Run on the server by `portside doctor` as `node -e <this file> <mode> [json]`. It only reads:
// files, pm2's list (never starting its daemon), HTTP and TLS answers on loopback, disk and memory.
// Prints one JSON object on stdout.
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const https = require('https');
const tls = require('tls');
const { execFileSync } = require('child_process');

const HOME = os.homedir();
const mode = process.argv[1];

const readOr = (file) => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};
const attempt = (fn) => {
  try {
    return fn();
  } catch (e) {
    return { error: String((e && e.message) || e).split('\n')[0] };
  }
};

function pm2Running() {
  const pid = Number(readOr(path.join(process.env.PM2_HOME || path.join(HOME, '.pm2'), 'pm2.pid')));
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pm2() {
  // `pm2 jlist` would start a daemon when none runs: doctor changes nothing, so look first.
  if (!pm2Running()) return [];
  const out = execFileSync('pm2', ['jlist'], { encoding: 'utf8', timeout: 15000, stdio: ['ignore', 'pipe', 'pipe'] });
  const line = out.split('\n').reverse().find((l) => l.startsWith('['));
  const list = line ? JSON.parse(line) : [];
  return list.map((p) => {
    const env = p.pm2_env || {};
    const port = Number((env.env && env.env.PORT) || env.PORT);
    const args = JSON.stringify([env.node_args, env.NODE_OPTIONS, env.env && env.env.NODE_OPTIONS]);
    return { name: p.name, status: env.status, port: port || null, pid: p.pid || null, execMode: env.exec_mode, preload: /preload\.js/.test(args) };
  });
}

function folders() {
  const base = path.join(HOME, 'services');
  let names = [];
  try {
    names = fs.readdirSync(base);
  } catch {
    return [];
  }
  return names.sort().map((name) => {
    let release = null;
    try {
      release = path.basename(fs.readlinkSync(path.join(base, name, 'current')));
    } catch {
      /* never switched */
    }
    let healthPath = '/';
    if (release) {
      try {
        healthPath = JSON.parse(fs.readFileSync(path.join(base, name, 'releases', release, '.portside-release.json'), 'utf8')).healthPath || '/';
      } catch {
        /* an old release without a manifest */
      }
    }
    return { name, release, healthPath };
  });
}

function capacity() {
  const st = fs.statfsSync(HOME);
  const mem = readOr('/proc/meminfo') || '';
  const kb = (k) => {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(mem);
    return m ? Number(m[1]) * 1024 : null;
  };
  return {
    diskFreeBytes: st.bavail * st.bsize,
    diskTotalBytes: st.blocks * st.bsize,
    memAvailableBytes: kb('MemAvailable') ?? os.freemem(),
    memTotalBytes: kb('MemTotal') ?? os.totalmem(),
  };
}

function sockets() {
  for (const argv of [['sudo', '-n', 'ss', '-ltnpH'], ['ss', '-ltnpH']]) {
    try {
      return { text: execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }), privileged: argv[0] === 'sudo' };
    } catch {
      /* no sudo: try as the user */
    }
  }
  return { error: 'ss -ltnp failed' };
}

function get(url, timeoutMs) {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return new Promise((resolve) => {
    const req = (secure ? https : http).get({
      host: '127.0.0.1', port: u.port || (secure ? 443 : 80), path: u.pathname + u.search, servername: secure ? u.hostname : undefined,
      headers: { host: u.host, 'user-agent': 'portside-doctor' }, rejectUnauthorized: false, timeout: timeoutMs, agent: false,
    }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => resolve(e.code || e.message));
  });
}

function certificate(host) {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: 443, servername: host, rejectUnauthorized: false, timeout: 5000 }, () => {
      const c = socket.getPeerCertificate();
      socket.destroy();
      if (!c || !c.valid_to) return resolve({ host, error: 'no certificate presented' });
      resolve({ host, validFrom: new Date(c.valid_from).toISOString(), validTo: new Date(c.valid_to).toISOString(), issuer: (c.issuer && (c.issuer.CN || c.issuer.O)) || undefined });
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve({ host, error: 'timeout' });
    });
    socket.on('error', (e) => resolve({ host, error: e.code || e.message }));
  });
}

/** A reload (anyone's) makes Caddy fail TLS handshakes for a moment: ask again before calling it broken. */
async function settled(fn) {
  let r;
  for (let i = 0; i < 3; i++) {
    r = await fn();
    const err = typeof r === 'string' ? r : r && r.error;
    if (!err || !/SSL|TLS|EPROTO|ECONNRESET/.test(err)) return r;
    await new Promise((res) => setTimeout(res, 300));
  }
  return r;
}

async function probe(req) {
  const direct = {};
  const viaCaddy = {};
  await Promise.all([
    ...req.direct.map(async (d) => { direct[d.name] = await get(`http://127.0.0.1:${d.port}${d.path}`, 3000); }),
    ...req.viaCaddy.map(async (v) => { viaCaddy[v.name] = await settled(() => get(v.url, 9000)); }),
  ]);
  const certificates = await Promise.all(req.certificates.map((host) => settled(() => certificate(host))));
  return { direct, viaCaddy, certificates };
}

async function main() {
  if (mode === 'read') {
    const registryText = readOr(path.join(HOME, '.portside', 'registry.json'));
    let caddyfile = null;
    try {
      caddyfile = readOr(JSON.parse(registryText).paths.caddyfile);
    } catch {
      /* reported by the registry check */
    }
    let registryHistory = [];
    try {
      registryHistory = fs.readdirSync(path.join(HOME, '.portside', 'registry.history')).filter((n) => !n.startsWith('.')).sort().reverse();
    } catch {
      /* none saved */
    }
    return { registryText, registryHistory, caddyfile, pm2: attempt(pm2), folders: folders(), capacity: attempt(capacity), sockets: sockets() };
  }
  if (mode === 'probe') return probe(JSON.parse(process.argv[2]));
  throw new Error(`unknown mode ${mode}`);
}

main().then((r) => process.stdout.write(JSON.stringify(r) + '\n'), (e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
