/** The bench times both flows without this workplace's NODE_EXTRA_CA_CERTS (bench/user-env.ts). */
import { asOnAUsersMachine, WORKPLACE_ONLY } from '../../bench/user-env';

test('removes only the workplace variables that are set, and names them', () => {
  const env: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', PATH: '/usr/bin', SSL_CERT_FILE: '/x' };
  expect(asOnAUsersMachine(env)).toEqual(['NODE_EXTRA_CA_CERTS']);
  expect(env).toEqual({ PATH: '/usr/bin', SSL_CERT_FILE: '/x' });
  expect(asOnAUsersMachine(env)).toEqual([]);
  expect(WORKPLACE_ONLY).toEqual(['NODE_EXTRA_CA_CERTS']);
});
