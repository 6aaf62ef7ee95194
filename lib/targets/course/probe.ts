import { connect } from 'node:net';
import { COURSE_HOST_ADDRESS } from './constants';

/** Whether something accepts TCP connections on host:port within `ms` (leaving from the host side of the course veth). */
export function tcpOpen(host: string, port: number, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localAddress: COURSE_HOST_ADDRESS });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
