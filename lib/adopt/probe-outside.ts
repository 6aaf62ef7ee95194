import { probeTcp } from '../doctor/probe-tcp';
import { HTTP_PORT, HTTPS_PORT, SSH_PORT } from '../remote/layout';
import { ServerFacts, unread } from './facts';

const LOOPBACK = /^(127\.|::1$)/;

/**
 * Try each port the server listens on beyond loopback (its own public ports aside) from here, the
 * way a stranger would: "bound on 0.0.0.0" becomes "open to the internet" or "stopped by a firewall".
 * Resolves to the facts with `outside` set.
 */
export async function probeOutside(facts: ServerFacts, host: string, ms = 1500): Promise<ServerFacts> {
  if (unread(facts.sockets)) return facts;
  const ports = [...new Set(facts.sockets.filter((s) => !LOOPBACK.test(s.address)).map((s) => s.port))]
    .filter((p) => p !== SSH_PORT && p !== HTTP_PORT && p !== HTTPS_PORT).sort((a, b) => a - b);
  const outside = await Promise.all(ports.map(async (port) => ({ port, outcome: await probeTcp(host, port, { ms }) })));
  return { ...facts, outside };
}
