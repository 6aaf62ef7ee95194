import {
  agentKey, descriptorKey, emptyManifest, MANIFEST_KEY, parseDescriptor, parseManifest, releaseKey, renderManifest,
  secretParameterName, staticKey, withoutService, withRelease,
} from '../../lib/fleet/store-layout';

const SHA = 'a'.repeat(64);
const ID = '20261130T132623Z-1a2b';
const good = () => withRelease(emptyManifest(new Date('2026-11-30T13:00:00Z')), 'simon', { port: 3000, release: SHA, releaseId: ID }, new Date('2026-11-30T13:01:00Z'));

describe('store keys', () => {
  test('are the contract\'s', () => {
    expect(MANIFEST_KEY).toBe('manifest/current.json');
    expect(releaseKey('simon', SHA)).toBe(`releases/simon/${SHA}.tar.gz`);
    expect(descriptorKey('simon', SHA)).toBe(`releases/simon/${SHA}.json`);
    expect(staticKey(SHA)).toBe(`static/${SHA}.tar.gz`);
    expect(secretParameterName('Portside', 'simon')).toBe('/portside/Portside/simon/env');
  });
  test('refuse a name or a hash that could leave their folder', () => {
    expect(() => releaseKey('../x', SHA)).toThrow(/invalid service name/);
    expect(() => releaseKey('simon', '../../manifest/current')).toThrow(/must be a sha256/);
    expect(() => secretParameterName('a/b', 'simon')).toThrow(/cannot name an SSM parameter/);
  });
});

describe('parseManifest', () => {
  test('reads back what renderManifest wrote', () => {
    expect(parseManifest(renderManifest(good()))).toEqual(good());
  });
  test('keeps the agent version a rollout recorded', () => {
    const m = { ...good(), agent: '0123456789abcdef' };
    expect(parseManifest(renderManifest(m)).agent).toBe('0123456789abcdef');
    expect(agentKey('0123456789abcdef')).toBe('agent/0123456789abcdef.tar.gz');
  });
  test('withoutService drops only that service', () => {
    const m = withRelease(good(), 'startup', { port: 3001, release: 'b'.repeat(64), releaseId: ID });
    expect(Object.keys(withoutService(m, 'simon').services)).toEqual(['startup']);
  });
  const bad: Array<[string, (m: Record<string, any>) => unknown, RegExp]> = [
    ['a wrong version', (m) => ({ ...m, version: 2 }), /version 2 must be 1/],
    ['a missing updatedAt', (m) => ({ ...m, updatedAt: undefined }), /updatedAt/],
    ['a release that is not a sha256', (m) => ({ ...m, services: { simon: { ...m.services.simon, release: 'latest' } } }), /services\.simon\.release "latest" must be a sha256/],
    ['a bad port', (m) => ({ ...m, services: { simon: { ...m.services.simon, port: 0 } } }), /services\.simon\.port 0 must be a port number/],
    ['a bad release id', (m) => ({ ...m, services: { simon: { ...m.services.simon, releaseId: 'x' } } }), /releaseId "x" must be an agent release id/],
    ['a bad service name', (m) => ({ ...m, services: { 'Bad Name': m.services.simon } }), /"Bad Name" each key must be a valid service name/],
    ['a bad static', (m) => ({ ...m, static: { release: 'nope' } }), /static/],
    ['an agent version that is not 16 hex digits', (m) => ({ ...m, agent: '../x' }), /agent "..\/x" must be an agent version/],
  ];
  test.each(bad)('refuses %s, naming the field, the rule and the fix', (_what, change, message) => {
    const text = JSON.stringify(change(JSON.parse(renderManifest(good()))));
    expect(() => parseManifest(text)).toThrow(message);
    expect(() => parseManifest(text)).toThrow(/versioned/);
  });
  test('refuses text that is not JSON', () => {
    expect(() => parseManifest('{')).toThrow(/manifest\/current.json is not JSON/);
    expect(() => parseManifest('[]')).toThrow(/must be a JSON object/);
  });
});

describe('parseDescriptor', () => {
  const d = { version: 1, service: 'simon', release: SHA, releaseId: ID, files: [{ p: 'index.js', h: 'c'.repeat(64), s: 10, m: 0o644 }], start: { script: 'index.js' }, healthPath: '/' };
  test('reads a good one', () => {
    expect(parseDescriptor(JSON.stringify(d), 'simon', SHA)).toEqual(d);
  });
  test('refuses one stored under another hash or service', () => {
    expect(() => parseDescriptor(JSON.stringify(d), 'simon', 'b'.repeat(64))).toThrow(/must be the sha256 it is stored under/);
    expect(() => parseDescriptor(JSON.stringify(d), 'startup', SHA)).toThrow(/service "simon" must be "startup"/);
  });
  test('refuses a file list without hashes', () => {
    expect(() => parseDescriptor(JSON.stringify({ ...d, files: [{ p: 'x' }] }), 'simon', SHA)).toThrow(/files/);
  });
});
