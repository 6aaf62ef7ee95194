/**
 * A bounded load generator: a steady stream of GET and POST (JSON body) requests through Caddy to one
 * service of the stand-in server (it connects only to the stand-in's address, with SNI), at a fixed
 * rate, open-loop (a slow answer never slows the stream). It stops by itself at `maxMs` or
 * `maxRequests`, whichever comes first, or when stopped. Every request's start, duration and outcome
 * is recorded.
 */
import { Agent, request, type RequestOptions } from 'node:https';

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

/** Start the load; it runs until `maxMs` or `maxRequests`, or until stopped. */
export function startLoad(o: LoadOptions): LoadRun {
  const run = new LoadGenerator(o);
  run.tick();
  return { startedAt: run.startedAt, done: run.done, stop: () => run.stop() };
}

type Kind = (typeof MIX)[number];

/** One load run's state: how many requests were sent, how many are in flight, the samples so far. */
class LoadGenerator {
  readonly startedAt: number;
  readonly done: Promise<Sample[]>;
  private readonly agent: Agent;
  private readonly samples: Sample[] = [];
  private readonly t0: number;
  private readonly interval: number;
  private sent = 0;
  private inFlight = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private resolveDone!: (s: Sample[]) => void;

  constructor(private readonly o: LoadOptions) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 64, ca: o.ca, servername: o.host });
    this.startedAt = Date.now();
    this.t0 = performance.now();
    this.done = new Promise<Sample[]>((r) => (this.resolveDone = r));
    this.interval = 1000 / o.rate;
  }

  // Schedule against the clock, not against the previous tick, so the rate holds under timer jitter.
  tick(): void {
    if (this.stopped) return;
    const elapsed = performance.now() - this.t0;
    while (this.sent < this.o.maxRequests && this.sent * this.interval <= elapsed) this.fire();
    if (this.sent >= this.o.maxRequests || elapsed >= this.o.maxMs) {
      this.stopped = true;
      this.finish();
      return;
    }
    this.timer = setTimeout(() => this.tick(), Math.max(1, this.interval / 2));
  }

  stop(): Promise<Sample[]> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.finish();
    return this.done;
  }

  /** Done once stopped and every request sent has settled. */
  private finish(): void {
    if (this.inFlight === 0 && this.stopped) {
      this.agent.destroy();
      this.resolveDone(this.samples);
    }
  }

  /** Send the next request of the mix; it is recorded once, however it ends (answer, error, timeout). */
  private fire(): void {
    const kind = MIX[this.sent % MIX.length];
    const i = this.sent++;
    const body = kind.method === 'POST' ? JSON.stringify({ name: `load-${i}`, score: i % 100 }) : undefined;
    const start = performance.now();
    this.inFlight++;
    let settled = false;
    const settle = (status: number, error?: string): void => {
      if (settled) return;
      settled = true;
      this.record(kind, start, status, error);
    };
    const req = request(this.requestOptions(kind, body), (res) => {
      res.on('data', () => {});
      res.on('end', () => settle(res.statusCode ?? 0));
      res.on('error', (e) => settle(0, (e as NodeJS.ErrnoException).code ?? e.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => settle(0, (e as NodeJS.ErrnoException).code ?? e.message));
    req.end(body);
  }

  private requestOptions(kind: Kind, body: string | undefined): RequestOptions {
    const { o } = this;
    return {
      host: o.address, port: 443, path: kind.path, method: kind.method, agent: this.agent, servername: o.host,
      headers: { host: o.host, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      timeout: o.timeoutMs ?? 10000,
    };
  }

  private record(kind: Kind, start: number, status: number, error?: string): void {
    this.inFlight--;
    this.samples.push({ t: start - this.t0, ms: performance.now() - start, method: kind.method, path: kind.path, status, error, ok: status >= 200 && status < 400, tls: isTlsFailure(error) || undefined });
    this.finish();
  }
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
