import { SshConnectionError } from './errors';

export interface Destination {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly label?: string;
  readonly readyTimeoutMs: number;
}

const LOCAL_FIX = 'for --target local run `npx portside local up`';

/** `ubuntu@1.2.3.4:22 (EC2 i-0abc)`: who, where, and what Portside thinks it is. */
export function describeDestination(d: Pick<Destination, 'host' | 'port' | 'user' | 'label'>): string {
  return `${d.user}@${d.host}:${d.port}${d.label ? ` (${d.label})` : ''}`;
}

/**
 * Turn ssh2/socket errors into one message with the value, the likely cause and the fix.
 * Only error codes and ssh2's own messages are used: never key material.
 */
export function explainConnectError(err: Error & { code?: string; level?: string }, d: Destination): SshConnectionError {
  const dest = describeDestination(d);
  const make = (reason: SshConnectionError['reason'], message: string) =>
    new SshConnectionError(reason, d.host, d.port, d.user, message);
  const code = err.code ?? '';

  if (code === 'ECONNREFUSED') {
    return make('refused', `cannot connect to ${dest}: connection refused (nothing listens for SSH on port ${d.port}). ` +
      `Is the server up and the port right? ${capitalize(LOCAL_FIX)}; for EC2 check the instance is running.`);
  }
  if (err.level === 'client-timeout' || code === 'ETIMEDOUT') {
    return make('timeout', `no SSH answer from ${dest} within ${Math.round(d.readyTimeoutMs / 1000)} s. ` +
      `The server may be down, or a firewall drops the traffic: on EC2 check the instance is running and its security group ` +
      `allows port ${d.port} from your address (your school's range); ${LOCAL_FIX}.`);
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN') {
    return make('unreachable', `cannot reach ${dest}: host unreachable (${code}). ` +
      `Check the address (--host) and your network; ${LOCAL_FIX}.`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return make('dns', `cannot resolve host name "${d.host}" for ${dest} (${code}). Check --host, or drop it to find the EC2 server by its tag.`);
  }
  if (err.level === 'client-authentication') {
    return make('auth', `the server at ${dest} refused the key for user "${d.user}" (authentication failed). ` +
      `Is --key the key for this server, and --user right (EC2 Ubuntu uses "ubuntu")? ${capitalize(LOCAL_FIX)}.`);
  }
  if (/privateKey|private key|passphrase/i.test(err.message)) {
    return make('key', `the private key for ${dest} cannot be used: ${err.message}. ` +
      'Give an unencrypted OpenSSH or PEM private key with --key.');
  }
  if (code === 'ECONNRESET' || /before handshake|connection lost/i.test(err.message)) {
    return make('closed', `the connection to ${dest} was closed by the server before SSH was ready (${code || err.message}). ` +
      'The server may still be booting (wait a minute), or sshd refuses this address.');
  }
  return make('other', `SSH connection to ${dest} failed: ${err.message}${code ? ` (${code})` : ''}`);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
