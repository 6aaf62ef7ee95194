/**
 * The dns family (lib/doctor/checks/dns.ts): each name Caddy serves resolves to the server, and only
 * to it. Facts in, checks out; no resolver.
 */
import { dnsFamily } from '../../lib/doctor/checks/dns';
import type { DnsAnswer } from '../../lib/doctor';
import { ADDRESS, healthy, run } from '../support/doctor-facts';

const answers = (dns: DnsAnswer[]) => run(dnsFamily, { ...healthy(), dns });
const fixFor = (name: string) => `create an A record ${name} → ${ADDRESS} (with -c hostedZoneId=… the stack manages the records for you)`;

describe('dns', () => {
  test('every served name resolves to the server: one pass each', () => {
    expect(run(dnsFamily, healthy()).map((r) => [r.id, r.status, r.message])).toEqual([
      ['dns.example.click', 'pass', 'example.click resolves to the server (203.0.113.7)'],
      ['dns.simon.example.click', 'pass', 'simon.example.click resolves to the server (203.0.113.7)'],
      ['dns.startup.example.click', 'pass', 'startup.example.click resolves to the server (203.0.113.7)'],
    ]);
  });

  test('skipped (local server, or no domain): one skip line with the reason gathered', () => {
    expect(run(dnsFamily, { ...healthy(), dns: { skipped: 'no domain: nothing to resolve' } })).toEqual([{ id: 'dns', status: 'skip', message: 'no domain: nothing to resolve' }]);
  });

  test('the server and another address: a warning naming the records to remove', () => {
    expect(answers([{ name: 'a.click', addresses: [ADDRESS, '198.51.100.4'] }])).toEqual([{
      id: 'dns.a.click', status: 'warn', message: 'a.click resolves to 203.0.113.7, 198.51.100.4: also to addresses that are not the server', fix: 'remove the records for 198.51.100.4',
    }]);
  });

  test('no answer, a resolver error, or only elsewhere: failures with the record to create', () => {
    expect(answers([{ name: 'b', addresses: [] }, { name: 'c', addresses: [], error: 'ENOTFOUND' }, { name: 'd', addresses: ['198.51.100.9'] }])).toEqual([
      { id: 'dns.b', status: 'fail', message: 'b does not resolve (no A record)', fix: fixFor('b') },
      { id: 'dns.c', status: 'fail', message: 'c does not resolve (ENOTFOUND)', fix: fixFor('c') },
      { id: 'dns.d', status: 'fail', message: 'd resolves to 198.51.100.9, not to the server (203.0.113.7)', fix: fixFor('d') },
    ]);
  });

  test('an unusable registry: nothing reported', () => {
    expect(run(dnsFamily, { ...healthy(), registry: { error: 'x' } })).toEqual([]);
  });
});
