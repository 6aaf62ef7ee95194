import { LB_TRY_DURATION, LB_TRY_INTERVAL } from '../../caddy/render-caddyfile';
import { HEALTH_PATH, HTTP_PORT } from '../../remote/layout';

/** What the load balancer's Caddyfile depends on. */
export interface LbCaddyfileInput {
  /** The fleet's domain: the apex and one level of subdomains are served (one wildcard certificate). */
  readonly domain: string;
  /** The servers' addresses; the load balancer speaks plain HTTP to port 80 on each, as the ALB does. */
  readonly servers: readonly string[];
  /** How often each server's health is asked. */
  readonly healthIntervalMs: number;
}

/**
 * The Caddyfile of the load balancer standing in for the ALB (pure). HTTPS with Caddy's own CA for the
 * apex and `*.<domain>` (the internal issuer signs a wildcard itself; no DNS plugin needed), port 80
 * redirected to HTTPS by Caddy itself, round robin over the servers that answer HEALTH_PATH with 200.
 * A refused connection is retried on another server for LB_TRY_DURATION, as the servers' own Caddy does.
 * Caddy 2.6.2 has no health_passes/health_fails: one failed check takes a server out, one pass brings it back.
 *
 * `buffer_requests`: the load balancer reads a request's whole body before it proxies it. Without it,
 * ~1 POST in 1,100 (measured: 8 of 8,892, Caddy 2.6.2 = Go 1.19.8, no deploy running) came back `200` with
 * an empty chunked body: the transport writes the body's declared bytes, the server answers at once, and
 * writing those response headers makes Go's HTTP/1 server drain and CLOSE the inbound body; the transport's
 * next read of it (checking nothing follows the declared length) then fails with "invalid Read on closed
 * Body", it drops the upstream connection, and Caddy 2.6.2 ends the cut response as if it were complete
 * (log: "aborting with incomplete response … use of closed network connection"; golang/go#40747, fixed in
 * Caddy by wrapping the body, caddyserver/caddy#7715/#7719). A buffered body is read from memory: 0 of
 * 8,890. Unbounded on purpose: this is the local stand-in only (the ALB on AWS); a bound would bring the
 * race back for larger bodies.
 */
export function renderLbCaddyfile(input: LbCaddyfileInput): string {
  if (input.servers.length === 0) throw new Error('the load balancer needs at least one server; got none');
  if (!Number.isInteger(input.healthIntervalMs) || input.healthIntervalMs < 100) {
    throw new Error(`healthIntervalMs must be a whole number of milliseconds ≥ 100, got ${input.healthIntervalMs}`);
  }
  const upstreams = input.servers.map((address) => `${address}:${HTTP_PORT}`).join(' ');
  return [
    '# Written by `portside local up --servers N`: the local stand-in for the fleet\'s load balancer.',
    '{',
    // Its own CA, never installed into the host's trust store (trust it per request with caCertPath).
    '\tlocal_certs',
    '\tskip_install_trust',
    '\tgrace_period 10s',
    '}',
    '',
    `${input.domain}, *.${input.domain} {`,
    '\ttls internal',
    `\treverse_proxy ${upstreams} {`,
    '\t\tlb_policy round_robin',
    '\t\tbuffer_requests',
    `\t\tlb_try_duration ${LB_TRY_DURATION}`,
    `\t\tlb_try_interval ${LB_TRY_INTERVAL}`,
    `\t\thealth_uri ${HEALTH_PATH}`,
    `\t\thealth_interval ${input.healthIntervalMs}ms`,
    `\t\thealth_timeout ${input.healthIntervalMs}ms`,
    '\t\thealth_status 200',
    '\t}',
    '}',
    '',
  ].join('\n');
}

/**
 * The server addresses a load balancer's Caddyfile (as renderLbCaddyfile writes it) proxies to, in its
 * order (pure): the servers registered with the load balancer. None when the text has no such line.
 */
export function lbUpstreamAddresses(text: string): string[] {
  const line = /^\treverse_proxy (.+) \{$/m.exec(text)?.[1] ?? '';
  return line.split(' ').filter(Boolean).map((upstream) => upstream.replace(new RegExp(`:${HTTP_PORT}$`), ''));
}
