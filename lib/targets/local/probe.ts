import { connect } from 'node:net';
import { HOST_ADDRESS } from './constants';

/** Whether something accepts TCP connections on host:port within `ms` (probing from `from`, see tcpExchange). */
export function tcpOpen(host: string, port: number, ms = 1000, from = HOST_ADDRESS): Promise<boolean> {
  return tcpExchange(host, port, undefined, ms, true, from).then((r) => r !== undefined);
}

/**
 * Probes only ever target the stand-in's own addresses. They leave from the host side of the veth:
 * when the veth is gone the bind fails here, instead of the kernel routing the probe out of the
 * machine's default route towards a stranger's 10.77.0.x.
 *
 * Connect, optionally send `request`, and resolve to what the server says first (up to the end of a
 * banner line or of HTTP headers), or undefined when the connection fails or nothing comes in `ms`.
 * `from`: the host's own address on the stand-in's network (the single stand-in's veth by default; the
 * fleet's bridge address for the fleet).
 */
export function tcpExchange(host: string, port: number, request?: string, ms = 2000, connectOnly = false, from = HOST_ADDRESS): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localAddress: from });
    let received = '';
    let settled = false;
    const done = (value: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), ms);
    socket.on('connect', () => {
      if (connectOnly) done('');
      else if (request !== undefined) socket.write(request);
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (request === undefined ? received.includes('\n') : received.includes('\r\n\r\n')) done(received);
    });
    socket.on('end', () => done(received || undefined));
    socket.on('error', () => done(undefined));
  });
}
