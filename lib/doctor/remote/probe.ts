// `probe` mode of the facts script, run on the server: HTTP answers and TLS certificates, all asked
// of 127.0.0.1 so they test the server itself, not DNS or the network in between.
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { HTTP_PORT, HTTPS_PORT } from '../../remote/layout';
import type { HttpOutcome, SiteCertificate } from '../types';
import type { ProbeAnswers, ProbeRequest } from './messages';

/** GET a URL from 127.0.0.1 with the URL's host name (and TLS server name): the status, or the error code. */
function get(url: string, timeoutMs: number): Promise<HttpOutcome> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return new Promise((resolve) => {
    const req = (secure ? https : http).get({
      host: '127.0.0.1', port: u.port || (secure ? HTTPS_PORT : HTTP_PORT), path: u.pathname + u.search, servername: secure ? u.hostname : undefined,
      headers: { host: u.host, 'user-agent': 'portside-doctor' }, rejectUnauthorized: false, timeout: timeoutMs, agent: false,
    }, (res) => {
      res.resume();
      resolve(res.statusCode as number);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code || e.message));
  });
}

/** A certificate issuer's common name, else its organisation (Node types either as string or string[]). */
function issuerName(issuer: tls.PeerCertificate['issuer'] | undefined): string | undefined {
  return ((issuer && (issuer.CN || issuer.O)) as string | undefined) || undefined;
}

/** The certificate Caddy serves for a host name (read, never verified: expiry is the check's job). */
function certificate(host: string): Promise<SiteCertificate> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: HTTPS_PORT, servername: host, rejectUnauthorized: false, timeout: 5000 }, () => {
      const c = socket.getPeerCertificate();
      socket.destroy();
      if (!c || !c.valid_to) return resolve({ host, error: 'no certificate presented' });
      resolve({ host, validFrom: new Date(c.valid_from).toISOString(), validTo: new Date(c.valid_to).toISOString(), issuer: issuerName(c.issuer) });
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve({ host, error: 'timeout' });
    });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve({ host, error: e.code || e.message }));
  });
}

/** A reload (anyone's) makes Caddy fail TLS handshakes for a moment: ask again before calling it broken. */
async function settled<T extends HttpOutcome | SiteCertificate>(fn: () => Promise<T>): Promise<T> {
  let r: T | undefined;
  for (let i = 0; i < 3; i++) {
    r = await fn();
    const err = typeof r === 'string' ? r : typeof r === 'object' ? r.error : undefined;
    if (!err || !/SSL|TLS|EPROTO|ECONNRESET/.test(err)) return r;
    await new Promise((res) => setTimeout(res, 300));
  }
  return r as T;
}

/** Every answer the request asks for, in parallel. */
export async function probe(req: ProbeRequest): Promise<ProbeAnswers> {
  const direct: ProbeAnswers['direct'] = {};
  const viaCaddy: ProbeAnswers['viaCaddy'] = {};
  await Promise.all([
    ...req.direct.map(async (d) => { direct[d.name] = await get(`http://127.0.0.1:${d.port}${d.path}`, 3000); }),
    ...req.viaCaddy.map(async (v) => { viaCaddy[v.name] = await settled(() => get(v.url, 9000)); }),
  ]);
  const certificates = await Promise.all(req.certificates.map((host) => settled(() => certificate(host))));
  return { direct, viaCaddy, certificates };
}
