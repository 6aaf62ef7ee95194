// The header the agent's own requests through Caddy (a deploy's verify, its page check) carry, so that the
// service's preload answers them with `Connection: close`. Caddy's Go transport then closes its upstream
// connection with the answer instead of keeping it idle in its pool (UPSTREAM_KEEPALIVE, 2 s). Left idle,
// that connection is still open in the worker the next deploy replaces, and its drain waits for it to
// have been idle IDLE_CLOSE_MS (250 ms) before closing it: measured on the local stand-in, the pm2 reload
// (the `switch` step) of back-to-back one-line deploys took 0.19-0.21 s with it left idle, 0.13-0.14 s without.
// Anyone may send the header: all it does is close that one connection after its answer. Pure: the
// preload bundles it.

/** Request header asking the service to close the connection after answering. */
export const VERIFY_HEADER = 'x-portside-verify';

/**
 * The TLS options of those requests. The certificate is not checked: a new site's may still be on its way
 * from Let's Encrypt, and what a verify proves is that Caddy routes the name to the service. So no trust
 * store is loaded either: without `ca`, Node adds its bundled root certificates to the request's TLS context
 * (`addRootCerts`), which blocked the agent's event loop ~25 ms in a CPU profile of the verify step on the
 * local stand-in, holding up the stay-up and live checks that run beside it. An empty `ca` trusts nothing,
 * which is what `rejectUnauthorized: false` already means here.
 */
export function unverifiedTls(): { rejectUnauthorized: false; ca: string[] } {
  return { rejectUnauthorized: false, ca: [] };
}
