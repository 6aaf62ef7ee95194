'use strict';
// Run inside the stand-in's network namespace (`ip netns exec portside node latency-client.js …`):
// the same GET, sequentially over one keep-alive connection each, straight to the service on
// 127.0.0.1:<port> and through Caddy on 127.0.0.1:443 (HTTPS, SNI <host>), in alternating blocks so
// both see the same machine load. Bounded: `count` requests each. Prints one JSON line.
const http = require('http');
const https = require('https');
const fs = require('fs');

const [port, host, caFile, countText, path = '/api/scores'] = process.argv.slice(2);
const count = Number(countText);
const direct = new http.Agent({ keepAlive: true, maxSockets: 1 });
const caddy = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(caFile), servername: host });

let tlsRetries = 0;
/** One timed GET; a refused TLS handshake (a Caddy front-door fault, see bench/load.ts) is retried and counted. */
async function once(viaCaddy) {
  for (let i = 0; ; i++) {
    try {
      return await attempt(viaCaddy);
    } catch (e) {
      if (i >= 50 || !/^(EPROTO|ERR_SSL_|ERR_TLS_)/.test(e.code || '')) throw e;
      tlsRetries++;
    }
  }
}

function attempt(viaCaddy) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const lib = viaCaddy ? https : http;
    const req = lib.request({
      host: '127.0.0.1', port: viaCaddy ? 443 : Number(port), path, agent: viaCaddy ? caddy : direct,
      servername: viaCaddy ? host : undefined, headers: { host: viaCaddy ? host : `127.0.0.1:${port}` }, timeout: 5000,
    }, (res) => {
      res.on('data', () => {});
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

(async () => {
  const out = { direct: [], caddy: [] };
  for (let i = 0; i < 20; i++) { await once(false); await once(true); } // warm both connections
  const block = 50;
  for (let done = 0; done < count; done += block) {
    for (const via of done % (2 * block) === 0 ? [false, true] : [true, false]) {
      for (let i = 0; i < block && done + i < count; i++) out[via ? 'caddy' : 'direct'].push(await once(via));
    }
  }
  direct.destroy();
  caddy.destroy();
  process.stdout.write(JSON.stringify({ ...out, tlsRetries }) + '\n');
})().catch((e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
