/**
 * What the fleet e2e suites share: the small service they roll out (it can be told to fail on one
 * server), where a server's release link points, the probe's idea of a right answer from it, and a
 * probe through the local fleet's load balancer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentLink } from '../../lib/remote/layout';
import { Accept, loadProbe, Tally } from './load-probe';

/** The file in a deploy user's home that makes the app of `name` refuse to start on that server. */
export const failFile = (home: string, name: string): string => join(home, `.e2e-fail-${name}`);

/**
 * A small service saying `text` that reads a request's body before it answers (as any POST handler
 * does), and refuses to start on a server whose deploy user has failFile(home, name): the tests' way to
 * make exactly one server's probe fail.
 */
export function appSaying(work: string, name: string, text: string): string {
  const dir = mkdtempSync(join(work, 'app-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), `const fs = require('fs');
if (fs.existsSync(require('os').homedir() + '/.e2e-fail-${name}')) { console.error('e2e: told to fail here'); process.exit(3); }
require('http').createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => { n += c.length; });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(${JSON.stringify(text)} + ' (' + req.method + ', ' + n + ' bytes)\\n');
  });
}).listen(Number(process.argv[2]));
`);
  return dir;
}

/** A deploy user's home, from the system's account database. */
export const homeOf = (user: string): string => execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split(':')[5];

/** The release a server's `current` link of `name` points at (read on the host: the servers share its filesystem). */
export function releaseOn(user: string, name: string): string | null {
  try {
    return execFileSync('readlink', [join(homeOf(user), currentLink(name))], { encoding: 'utf8' }).trim().split('/').pop() ?? null;
  } catch {
    return null;
  }
}

/** The app's whole answer: a 200 naming the method and the body's size (an empty 200 is a failure). */
export const appAnswered: Accept = (_name, method, status, body) => status === 200 && body.includes('says') && body.includes(`(${method}, ${method === 'POST' ? 200 : 0} bytes)`);

/**
 * GET and POST to `<name>.<domain>` through the local fleet's load balancer (HTTPS, keep-alive as browsers
 * do), 100 requests a second: the shared probe. Empty 200s were the stand-in load balancer's (Caddy 2.6.2
 * cut a POST's answer and ended it as complete: see fleet-lb-caddyfile.ts, `buffer_requests`).
 */
export const loadThroughLb = (address: string, domain: string, name: string): { stop: () => Promise<Tally> } =>
  loadProbe({ address, domain, names: [name], accept: appAnswered });
