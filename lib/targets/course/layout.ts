import { COURSE_DOMAIN, COURSE_UID, COURSE_USER, NODE_VERSION_DIR, ON_SERVER } from './constants';

/**
 * Which course server to build: as the course's material describes it, with a student's typical mistakes,
 * or with no static site (`no-static`: one `:80` site routing /simon/ and /startup/, no domain yet, nothing
 * served from files: adopt then has no static root to keep its Caddyfile in).
 */
export type CourseVariant = 'course' | 'mistakes' | 'no-static';

/** One service started by hand with `pm2 start index.js -n <name> -- <port> <name> [<bind address>]`. */
export interface CourseService {
  readonly name: string;
  readonly port: number;
  /** The address it binds: the course's services bind every interface; ours loopback unless a mistake says so. */
  readonly bind: '127.0.0.1' | '0.0.0.0';
}

export interface CourseShape {
  readonly variant: CourseVariant;
  readonly services: readonly CourseService[];
  readonly caddyfile: string;
}

const HEADERS = ['\theader Cache-Control no-store', '\theader -server', '\theader -etag'];

/** The course's global options: `local_certs` because the stand-in has no public DNS (no ACME attempts). */
const GLOBAL = ['{', '\tlocal_certs', '\tskip_install_trust', '\temail student@example.com', '}'];

function rootSite(): string[] {
  return [`${COURSE_DOMAIN} {`, `\troot * ${ON_SERVER.staticRoot}`, '\tfile_server', ...HEADERS, '}'];
}

function serviceSite(name: string, port: number, cors = false): string[] {
  return [`${name}.${COURSE_DOMAIN} {`, `\treverse_proxy * localhost:${port}`, ...HEADERS,
    ...(cors ? ['\theader Access-Control-Allow-Origin *'] : []), '}'];
}

/**
 * The server's services and hand-written Caddyfile (pure). `mistakes` has one of each mistake adopt
 * must name: startup's site points at 4001 while pm2 runs it on 4000; `old` routes to 5000 where
 * nothing listens; pm2 runs `worker` on 5100 that no site reaches; simon's site is written twice
 * (`https://simon…` is the same site as `simon…`: Caddy accepts it and the second block is never
 * reached); simon binds 0.0.0.0, reachable from outside the server.
 */
export function courseShape(variant: CourseVariant): CourseShape {
  if (variant === 'course') {
    const services: CourseService[] = [{ name: 'simon', port: 3000, bind: '127.0.0.1' }, { name: 'startup', port: 4000, bind: '127.0.0.1' }];
    const caddyfile = [...GLOBAL, '', ...rootSite(), '', ...serviceSite('startup', 4000, true), '', ...serviceSite('simon', 3000, true), ''].join('\n');
    return { variant, services, caddyfile };
  }
  if (variant === 'no-static') {
    const services: CourseService[] = [{ name: 'simon', port: 3000, bind: '127.0.0.1' }, { name: 'startup', port: 4000, bind: '127.0.0.1' }];
    const routes = services.flatMap((s) => [`\thandle_path /${s.name}/* {`, `\t\treverse_proxy localhost:${s.port}`, '\t}']);
    return { variant, services, caddyfile: [...GLOBAL, '', ':80 {', ...routes, ...HEADERS, '}', ''].join('\n') };
  }
  const services: CourseService[] = [
    { name: 'simon', port: 3000, bind: '0.0.0.0' },
    { name: 'startup', port: 4000, bind: '127.0.0.1' },
    { name: 'worker', port: 5100, bind: '127.0.0.1' },
  ];
  const caddyfile = [...GLOBAL, '', ...rootSite(), '', ...serviceSite('startup', 4001, true), '', ...serviceSite('simon', 3000),
    '', '# pasted again from the instructions', `https://simon.${COURSE_DOMAIN} {`, '\treverse_proxy * localhost:3001', '}',
    '', ...serviceSite('old', 5000), ''].join('\n');
  return { variant, services, caddyfile };
}

/**
 * A tiny dependency-free service: `node index.js <port> <name> [<bind address>]`, answers JSON. It also
 * accepts a WebSocket (the handshake of RFC 6455 by hand: no package to install) and sends one text frame
 * naming the process that answered, so a test can tell which process a reconnected socket reached.
 */
export const SERVICE_SOURCE = `const http = require('http');
const crypto = require('crypto');
const [port, name, bind] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ service: name, method: req.method, path: req.url, received: body.length }));
  });
});
server.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.on('error', () => {});
  socket.on('data', () => {});
  const hello = Buffer.from(JSON.stringify({ service: name, pid: process.pid }));
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  socket.write(Buffer.concat([Buffer.from([0x81, hello.length]), hello]));
});
server.listen(Number(port), bind || '127.0.0.1');
`;

export function servicePackageJson(name: string): string {
  return JSON.stringify({ name, version: '1.0.0', main: 'index.js', scripts: { start: 'node index.js' } }, null, 2) + '\n';
}

/**
 * ~/.bashrc as Ubuntu ships it (non-interactive shells return at once) with nvm's lines appended
 * after that guard: this is why a non-interactive SSH command finds no node and the course runs `bash -i`.
 */
export const BASHRC = `# ~/.bashrc: executed by bash(1) for non-login shells.
# If not running interactively, don't do anything
case $- in
    *i*) ;;
      *) return;;
esac
HISTCONTROL=ignoreboth

export NVM_DIR="$HOME/.nvm"
[ -s "$NVM_DIR/nvm.sh" ] && \\. "$NVM_DIR/nvm.sh"  # This loads nvm
[ -s "$NVM_DIR/bash_completion" ] && \\. "$NVM_DIR/bash_completion"  # This loads nvm bash_completion
`;

/** A stand-in for nvm.sh: what it does at shell start-up is put the default version's bin on PATH. */
export const NVM_SH = `# Stand-in for nvm.sh (the course server fixture): puts the default alias's Node on PATH.
NVM_BIN="$NVM_DIR/versions/node/$(cat "$NVM_DIR/alias/default")/bin"
export NVM_BIN
export PATH="$NVM_BIN:$PATH"
`;
export const NVM_DEFAULT_ALIAS = `${NODE_VERSION_DIR}\n`;

/** The host's user database plus `ubuntu` (bound over /etc/passwd, /etc/group, /etc/shadow inside). */
export function userDatabase(host: { passwd: string; group: string; shadow: string }): { passwd: string; group: string; shadow: string } {
  const add = (text: string, line: string) => `${text.replace(/\n*$/, '\n')}${line}\n`;
  return {
    passwd: add(host.passwd, `${COURSE_USER}:x:${COURSE_UID}:${COURSE_UID}:Ubuntu:${ON_SERVER.home}:/bin/bash`),
    group: add(host.group, `${COURSE_USER}:x:${COURSE_UID}:`),
    // "*": no password can match, but the account is not locked (sshd refuses "!" even for keys).
    shadow: add(host.shadow, `${COURSE_USER}:*:19000:0:99999:7:::`),
  };
}

/** sshd_config for the course server: OpenSSH's own defaults for PATH (no SetEnv: that is the point). */
export function courseSshdConfig(c: { listenAddress: string; port: number; hostKey: string; pidFile: string }): string {
  return [
    '# The course server fixture\'s sshd (lib/targets/course); not the host\'s.',
    `ListenAddress ${c.listenAddress}`,
    `Port ${c.port}`,
    `HostKey ${c.hostKey}`,
    `PidFile ${c.pidFile}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    `AllowUsers ${COURSE_USER}`,
    // No PAM: its session modules expect systemd-logind, which the namespace does not have.
    'UsePAM no',
    'PrintMotd no',
    'MaxStartups 50:30:100',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}
