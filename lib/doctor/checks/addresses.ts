/** Whether a listening address is reachable only from the machine itself. */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  return a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.') || a === 'localhost';
}

/** `0.0.0.0`, `*`, `::` mean every interface of the server. */
export function isWildcard(address: string): boolean {
  return ['0.0.0.0', '*', '::', '[::]'].includes(address);
}

/** `host:port` as people read it: `[::1]:2019` for IPv6. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
