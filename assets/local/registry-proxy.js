#!/usr/bin/env node
// The stand-in server's only way out: an HTTP proxy on the host side of the veth that lets the server
// reach the npm registry (CONNECT for https, absolute-form requests for http) and nothing else.
// Dependency-free so it runs with the host's node. Every decision is logged, one line each.
//
//   node registry-proxy.js --listen 10.77.0.1:3128 --allow registry.npmjs.org:443 --client 10.77.0.2
'use strict';
const http = require('node:http');
const net = require('node:net');

function parseArgs(argv) {
  const opts = { allow: [], clients: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--listen') opts.listen = value;
    else if (flag === '--allow') opts.allow.push(value.toLowerCase());
    else if (flag === '--client') opts.clients.push(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!opts.listen || opts.allow.length === 0) throw new Error('usage: registry-proxy.js --listen HOST:PORT --allow HOST:PORT [--allow …] [--client IP …]');
  return opts;
}

function splitHostPort(text, defaultPort) {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(text);
  if (!m) return undefined;
  return { host: m[1].toLowerCase(), port: Number(m[2] ?? defaultPort) };
}

const opts = parseArgs(process.argv.slice(2));
const listen = splitHostPort(opts.listen, 3128);
const allowed = (host, port) => opts.allow.includes(`${host}:${port}`);
const clientAllowed = (socket) => {
  const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  return opts.clients.length === 0 || opts.clients.includes(ip) || ip === '127.0.0.1';
};
const log = (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

function refuse(socket, why) {
  log(`refused ${why}`);
  socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nportside registry proxy: ${why}; only ${opts.allow.join(', ')} is allowed\n`);
}

const server = http.createServer((req, res) => {
  // Absolute-form request for a plain-http registry; anything else is refused.
  let target;
  try {
    target = new URL(req.url);
  } catch {
    target = undefined;
  }
  const port = target ? Number(target.port || (target.protocol === 'https:' ? 443 : 80)) : 0;
  if (!clientAllowed(req.socket) || !target || target.protocol !== 'http:' || !allowed(target.hostname.toLowerCase(), port)) {
    log(`refused ${req.method} ${req.url} from ${req.socket.remoteAddress}`);
    res.writeHead(403, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end(`portside registry proxy: ${req.url} is not allowed; only ${opts.allow.join(', ')} is\n`);
    return;
  }
  log(`forward ${req.method} ${req.url}`);
  const upstream = http.request(
    { host: target.hostname, port, method: req.method, path: target.pathname + target.search, headers: req.headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', (e) => {
    log(`upstream error ${req.url}: ${e.message}`);
    if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end();
  });
  req.pipe(upstream);
});

server.on('connect', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const target = splitHostPort(req.url ?? '', 443);
  if (!clientAllowed(socket)) return refuse(socket, `client ${socket.remoteAddress}`);
  if (!target || !allowed(target.host, target.port)) return refuse(socket, `CONNECT ${req.url}`);
  log(`connect ${target.host}:${target.port}`);
  const upstream = net.connect(target.port, target.host, () => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head && head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on('error', (e) => {
    log(`upstream error ${target.host}:${target.port}: ${e.message}`);
    socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n');
  });
  socket.on('close', () => upstream.destroy());
});

server.on('clientError', (_e, socket) => socket.destroy());
server.listen(listen.port, listen.host, () => log(`listening on ${listen.host}:${listen.port}, allowing ${opts.allow.join(', ')}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
