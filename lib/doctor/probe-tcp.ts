import { connect } from 'node:net';
import { ProbeOutcome } from './types';

/**
 * Try a TCP connection the way a stranger would: `open` when it is accepted, `refused` on a reset,
 * `filtered` when nothing answers within `ms` (a security group drops, it does not refuse).
 */
export function probeTcp(host: string, port: number, opts: { localAddress?: string; ms?: number } = {}): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localAddress: opts.localAddress });
    const done = (o: ProbeOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done('filtered'), opts.ms ?? 1500);
    socket.once('connect', () => done('open'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'filtered'));
  });
}
