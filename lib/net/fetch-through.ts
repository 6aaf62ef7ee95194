import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface FetchResult {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/**
 * GET a URL by connecting to `address` instead of resolving its host name (the stand-in's domain is
 * in no DNS), with SNI and Host set from the URL, verifying HTTPS against `ca` when given.
 */
export function fetchThrough(url: string, address: string, opts: { ca?: string | Buffer; timeoutMs?: number; method?: string; body?: string } = {}): Promise<FetchResult> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)({
      host: address,
      port: u.port || (secure ? 443 : 80),
      path: u.pathname + u.search,
      method: opts.method ?? 'GET',
      headers: { host: u.host, ...(opts.body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(opts.body) } : {}) },
      servername: secure ? u.hostname : undefined,
      ca: opts.ca,
      timeout: opts.timeoutMs ?? 10000,
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} via ${address} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
