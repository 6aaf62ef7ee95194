// The preload's first promise: a server that listens on all interfaces is bound to 127.0.0.1
// instead, so the only way in from outside is Caddy. Pure: which arguments `listen` gets.

/** A host that means "every interface" (or none given, which Node reads the same way). */
export function isWildcardHost(h: unknown): boolean {
  return h === undefined || h === null || h === '' || h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0';
}

/**
 * `server.listen(...)`'s arguments with a wildcard host made 127.0.0.1. Every form Node accepts is
 * understood: an options object (a path, fd or handle is left alone), or a port (number or digits)
 * followed by an optional host, backlog and callback. A specific host is left as the app gave it.
 */
export function toLoopback(args: readonly unknown[]): unknown[] {
  const first = args[0];
  if (first && typeof first === 'object' && !Array.isArray(first)) {
    const o = first as Record<string, unknown>;
    if (o.path !== undefined || o.fd !== undefined || o._handle || o.handle) return [...args];
    if (isWildcardHost(o.host)) return [{ ...o, host: '127.0.0.1' }, ...args.slice(1)];
    return [...args];
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^[0-9]+$/.test(first))) {
    const second = args[1];
    if (typeof second === 'string' || second === null || second === undefined) {
      if (args.length >= 2 && !isWildcardHost(second)) return [...args];
      const rest = args.length >= 2 ? args.slice(2) : args.slice(1);
      return [first, '127.0.0.1', ...rest];
    }
    if (typeof second === 'function' || typeof second === 'number') return [first, '127.0.0.1', ...args.slice(1)];
  }
  return [...args];
}
