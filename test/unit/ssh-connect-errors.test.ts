import { explainConnectError } from '../../lib/ssh/connect-errors';

const dest = { host: '203.0.113.7', port: 22, user: 'ubuntu', label: 'EC2 i-0abc (Portside)', readyTimeoutMs: 10_000 };
const err = (message: string, extra: { code?: string; level?: string } = {}) => Object.assign(new Error(message), extra);

describe('explainConnectError', () => {
  test.each([
    ['refused', err('connect ECONNREFUSED', { code: 'ECONNREFUSED', level: 'client-socket' }), /connection refused.*npx portside local up/s],
    ['timeout', err('Timed out while waiting for handshake', { level: 'client-timeout' }), /within 10 s.*security group allows port 22/s],
    ['unreachable', err('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }), /host unreachable \(EHOSTUNREACH\).*--host/s],
    ['dns', err('getaddrinfo ENOTFOUND', { code: 'ENOTFOUND' }), /cannot resolve host name "203.0.113.7"/],
    ['auth', err('All configured authentication methods failed', { level: 'client-authentication' }), /refused the key for user "ubuntu".*--key.*npx portside local up/s],
    ['key', err('Cannot parse privateKey: Unsupported key format'), /private key .* cannot be used.*--key/s],
  ])('%s: names user@host:port and the label, and says what to do', (reason, e, pattern) => {
    const out = explainConnectError(e, dest);
    expect(out.reason).toBe(reason);
    expect(out.message).toContain('ubuntu@203.0.113.7:22 (EC2 i-0abc (Portside))');
    expect(out.message).toMatch(pattern);
  });
});
