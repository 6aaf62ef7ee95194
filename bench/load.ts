/**
 * A bounded load generator: a steady stream of GET and POST (JSON body) requests through Caddy to one
 * service of the stand-in server (it connects only to the stand-in's address, with SNI), at a fixed
 * rate, open-loop (a slow answer never slows the stream). It stops by itself at `maxMs` or
 * `maxRequests`, whichever comes first, or when stopped. Every request's start, duration and outcome
 * is recorded.
 */
import { Agent, request } from 'node:https';

export interface Sample {
  /** ms since the load started */
  readonly t: number;
  /** ms from sending to the end of the answer (or the error) */
  readonly ms: number;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** HTTP status, or 0 for a connection error / timeout */
  readonly status: number;
  readonly error?: string;
  readonly ok: boolean;
  /** failed in the TLS handshake with Caddy, before any HTTP request was sent */
  readonly tls?: boolean;
}

/** Node's codes for a TLS handshake that the server refused (e.g. Caddy's `internal_error` alert). */
export const isTlsFailure = (code: string | undefined): boolean => !!code && /^(EPROTO|ERR_SSL_|ERR_TLS_)/.test(code);

export interface LoadOptions {
  readonly address: string;
  readonly host: string;
  readonly ca: Buffer | string;
  readonly rate: number;
  readonly maxMs: number;
  readonly maxRequests: number;
  readonly timeoutMs?: number;
}

export interface LoadRun {
  readonly startedAt: number;
  stop(): Promise<Sample[]>;
  readonly done: Promise<Sample[]>;
}

const MIX: Array<{ method: 'GET' | 'POST'; path: string }> = [
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/api/scores' },
  { method: 'POST', path: '/api/score' },
];

export function startLoad(o: LoadOptions): LoadRun {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: o.ca, servername: o.host });
  const samples: Sample[] = [];
  const startedAt = Date.now();
  const t0 = performance.now();
  let sent = 0;
  let inFlight = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveDone!: (s: Sample[]) => void;
  const done = new Promise<Sample[]>((r) => (resolveDone = r));
  const interval = 1000 / o.rate;

  const finish = (): void => {
    if (inFlight === 0 && stopped) {
      agent.destroy();
      resolveDone(samples);
    }
  };

  const fire = (): void => {
    const kind = MIX[sent % MIX.length];
    const i = sent++;
    const body = kind.method === 'POST' ? JSON.stringify({ name: `load-${i}`, score: i % 100 }) : undefined;
    const start = performance.now();
    inFlight++;
    let settled = false;
    const settle = (status: number, error?: string): void => {
      if (settled) return;
      settled = true;
      inFlight--;
      samples.push({ t: start - t0, ms: performance.now() - start, method: kind.method, path: kind.path, status, error, ok: status >= 200 && status < 400, tls: isTlsFailure(error) || undefined });
      finish();
    };
    const req = request({
      host: o.address, port: 443, path: kind.path, method: kind.method, agent, servername: o.host,
      headers: { host: o.host, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      timeout: o.timeoutMs ?? 10000,
    }, (res) => {
      res.on('data', () => {});
      res.on('end', () => settle(res.statusCode ?? 0));
      res.on('error', (e) => settle(0, (e as NodeJS.ErrnoException).code ?? e.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => settle(0, (e as NodeJS.ErrnoException).code ?? e.message));
    req.end(body);
  };

  // Schedule against the clock, not against the previous tick, so the rate holds under timer jitter.
  const tick = (): void => {
    if (stopped) return;
    const elapsed = performance.now() - t0;
    while (sent < o.maxRequests && sent * interval <= elapsed) fire();
    if (sent >= o.maxRequests || elapsed >= o.maxMs) {
      stopped = true;
      finish();
      return;
    }
    timer = setTimeout(tick, Math.max(1, interval / 2));
  };
  tick();

  return {
    startedAt,
    done,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      finish();
      return done;
    },
  };
}

export interface LoadSummary {
  readonly requests: number;
  readonly failed: number;
  readonly failedGet: number;
  readonly failedPost: number;
  /** failures in the TLS handshake (Caddy's front door; no request reached the service) */
  readonly failedTls: number;
  /** every other failure: HTTP errors, resets, timeouts */
  readonly failedHttp: number;
  /** answers slower than 2 s (failed or not) */
  readonly slow: number;
  readonly maxMs: number;
  readonly p50: number;
  readonly p99: number;
  /** the longest stretch from a failed request's start to the end of the last failure in an unbroken run of failures */
  readonly longestGapMs: number;
  readonly rate: number;
  readonly statuses: Record<string, number>;
}

export function summarize(samples: readonly Sample[], durationMs?: number): LoadSummary {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const ms = sorted.map((s) => s.ms).sort((a, b) => a - b);
  let longest = 0;
  let runStart = -1;
  let runEnd = 0;
  for (const s of sorted) {
    if (s.tls) continue;
    if (!s.ok) {
      if (runStart < 0) runStart = s.t;
      runEnd = Math.max(runEnd, s.t + s.ms);
      longest = Math.max(longest, runEnd - runStart);
    } else {
      runStart = -1;
      runEnd = 0;
    }
  }
  const statuses: Record<string, number> = {};
  for (const s of samples) {
    const k = s.status ? String(s.status) : s.error ?? 'error';
    statuses[k] = (statuses[k] ?? 0) + 1;
  }
  const span = durationMs ?? (sorted.length ? sorted[sorted.length - 1].t - sorted[0].t : 0);
  return {
    requests: samples.length,
    failed: samples.filter((s) => !s.ok).length,
    failedGet: samples.filter((s) => !s.ok && s.method === 'GET').length,
    failedPost: samples.filter((s) => !s.ok && s.method === 'POST').length,
    failedTls: samples.filter((s) => !s.ok && s.tls).length,
    failedHttp: samples.filter((s) => !s.ok && !s.tls).length,
    slow: samples.filter((s) => s.ms > 2000).length,
    maxMs: ms.length ? ms[ms.length - 1] : 0,
    p50: quantile(ms, 0.5),
    p99: quantile(ms, 0.99),
    longestGapMs: longest,
    rate: span > 0 ? samples.length / (span / 1000) : 0,
    statuses,
  };
}

/** The q-quantile of sorted numbers (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * How healthy Caddy's TLS front door is, independent of any deploy: `count` fresh handshakes, one at a
 * time. (Caddy 2.6.2 leaks the new listener of a reload that fails, e.g. on a port in use; the leaked
 * listener answers every handshake that lands on it with an `internal_error` alert until Caddy restarts.)
 */
export async function tlsHandshakes(address: string, host: string, ca: Buffer | string, count: number): Promise<{ ok: number; failed: number }> {
  const { connect } = await import('node:tls');
  let ok = 0;
  let failed = 0;
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => {
      const s = connect({ host: address, port: 443, servername: host, ca, ALPNProtocols: ['http/1.1'], timeout: 5000 }, () => {
        ok++;
        s.destroy();
        resolve();
      });
      s.on('error', () => {
        failed++;
        resolve();
      });
      s.on('timeout', () => s.destroy(new Error('timeout')));
    });
  }
  return { ok, failed };
}
