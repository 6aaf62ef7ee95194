import type { Registry } from '../registry';

/**
 * The URL the agent checks through the server's own Caddy after a switch. A fleet server sits behind
 * a load balancer that ends TLS: its Caddy serves the same names as plain HTTP on port 80 only, so the
 * users' `https://` URL is checked there as `http://` (the host and path stay; the Host header routes it).
 */
export function verifyUrlOnServer(registry: Pick<Registry, 'loadBalancer'>, url: string): string {
  if (!registry.loadBalancer || !url.startsWith('https://')) return url;
  return `http://${url.slice('https://'.length)}`;
}
