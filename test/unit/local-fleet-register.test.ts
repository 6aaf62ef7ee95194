import { fleetServerSpec, MAX_FLEET_SERVERS } from '../../lib/targets/local/fleet-constants';
import { lbUpstreamAddresses, renderLbCaddyfile } from '../../lib/targets/local/fleet-lb-caddyfile';
import { fleetServerNamed, lbTargets } from '../../lib/targets/local/fleet-register';

/** The pure parts of registering a fleet server with the local load balancer (a new server joins once healthy). */

const specs = [1, 2, 3, 4].map((i) => fleetServerSpec(i));
const [a1, a2, a3, a4] = specs.map((s) => s.address);

describe('lbUpstreamAddresses', () => {
  test('reads back the servers renderLbCaddyfile wrote, in order', () => {
    const text = renderLbCaddyfile({ domain: 'fleet.portside.test', servers: [a1, a3, a4], healthIntervalMs: 1000 });
    expect(lbUpstreamAddresses(text)).toEqual([a1, a3, a4]);
  });

  test('none from a text without the load balancer\'s reverse_proxy line', () => {
    expect(lbUpstreamAddresses('')).toEqual([]);
    expect(lbUpstreamAddresses('example.test {\n\trespond 200\n}\n')).toEqual([]);
  });
});

describe('lbTargets', () => {
  test('a new server that is not healthy yet is left out; registered servers stay, healthy or not', () => {
    expect(lbTargets(specs, [a1, a2, a3], new Set([a1, a3]))).toEqual([a1, a2, a3]);
  });

  test('a new server joins once its health answers 200', () => {
    expect(lbTargets(specs, [a1, a2, a3], new Set([a4]))).toEqual([a1, a2, a3, a4]);
  });

  test('a registered server beyond the fleet\'s size (a shrink) is dropped', () => {
    expect(lbTargets(specs.slice(0, 3), [a1, a2, a3, a4], new Set())).toEqual([a1, a2, a3]);
  });

  test('first load balancer: the healthy servers; with none healthy, every server (Caddy needs an upstream)', () => {
    expect(lbTargets(specs.slice(0, 2), [], new Set([a2]))).toEqual([a2]);
    expect(lbTargets(specs.slice(0, 2), [], new Set())).toEqual([a1, a2]);
  });
});

describe('fleetServerNamed', () => {
  test('s<i> is server i', () => {
    expect(fleetServerNamed('s4')).toEqual(fleetServerSpec(4));
  });

  test.each(['s0', `s${MAX_FLEET_SERVERS + 1}`, 'S4', '4', 's4 ', '../s4'])('%j is refused with the rule', (name) => {
    expect(() => fleetServerNamed(name)).toThrow(`fleet server ${JSON.stringify(name)}: a fleet server is named s1…s${MAX_FLEET_SERVERS}; e.g. s4`);
  });
});
