import type { Client } from 'ssh2';

/**
 * One SSH round trip: a `keepalive@openssh.com` global request wanting a reply, as ssh2's own
 * keepalive sends it (its client.js: a callback appended to `_callbacks`, then `_protocol.ping()`;
 * replies to global requests come back in order, success or failure alike). ssh2 has no public call
 * for this, so it goes one level down, as exec-channel.ts's hangUp does.
 * @returns true when the server answered within `timeoutMs`
 */
export function pingServer(client: Client, timeoutMs: number): Promise<boolean> {
  const inner = client as unknown as { _callbacks?: Array<() => void>; _protocol?: { ping(): void } };
  return new Promise<boolean>((resolve) => {
    if (!inner._callbacks || !inner._protocol) return resolve(false);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    inner._callbacks.push(() => {
      clearTimeout(timer);
      resolve(true);
    });
    try {
      inner._protocol.ping();
    } catch {
      clearTimeout(timer);
      resolve(false);
    }
  });
}
