import type { Client } from 'ssh2';

/**
 * One SSH round trip: a `keepalive@openssh.com` global request wanting a reply, as ssh2's own
 * keepalive sends it (its client.js: a callback appended to `_callbacks`, then `_protocol.ping()`;
 * replies to global requests come back in order, success or failure alike; a closed connection calls
 * each pending one with an Error). ssh2 has no public call
 * for this, so it goes one level down, as exec-channel.ts's hangUp does.
 * @returns true when the server answered within `timeoutMs`
 */
export function pingServer(client: Client, timeoutMs: number): Promise<boolean> {
  const inner = client as unknown as { _callbacks?: Array<(err?: unknown) => void>; _protocol?: { ping(): void } };
  return new Promise<boolean>((resolve) => {
    if (!inner._callbacks || !inner._protocol) return resolve(false);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    // The server answers with true (REQUEST_FAILURE: OpenSSH does not know the request) or false
    // (success); a connection that closes first calls back with an Error ("No response from server").
    inner._callbacks.push((err?: unknown) => {
      clearTimeout(timer);
      resolve(!(err instanceof Error));
    });
    try {
      inner._protocol.ping();
    } catch {
      clearTimeout(timer);
      resolve(false);
    }
  });
}
