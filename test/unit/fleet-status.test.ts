import { disagreements, ServerView } from '../../lib/fleet/fleet-status';
import { emptyManifest, withRelease } from '../../lib/fleet/store-layout';
import type { ServiceRow } from '../../lib/deploy/manage-service';

const A = '20261130T132623Z-aaaa';
const B = '20261130T140000Z-bbbb';
const manifest = withRelease(emptyManifest(), 'simon', { port: 3000, release: 'a'.repeat(64), releaseId: A });
const row = (name: string, release: string | null): ServiceRow => ({ name, port: 3000, url: null, status: 'online', health: 'ok (200)', release, deployedAt: null });
const server = (name: string, rows: ServiceRow[], converged = true): ServerView => ({ server: name, converged, services: rows });

describe('fleet disagreements', () => {
  test('none when every server runs the manifest\'s release and has converged', () => {
    expect(disagreements(manifest, [server('s1', [row('simon', A)]), server('s2', [row('simon', A)])])).toEqual([]);
  });
  test('a server on another release, one missing the service, one not converged, one unreadable: each named', () => {
    expect(disagreements(manifest, [
      server('s1', [row('simon', A)]),
      server('s2', [row('simon', B)]),
      server('s3', [], false),
      { server: 's4', converged: null, services: [], error: 'connect ETIMEDOUT' },
    ])).toEqual([
      `s2: simon runs ${B}, the manifest says ${A}`,
      's3: not converged (the load balancer sends it nothing)',
      `s3: simon is missing (the manifest has release ${A})`,
      's4: could not be read (connect ETIMEDOUT)',
    ]);
  });
  test('a service the manifest does not name is reported', () => {
    expect(disagreements(manifest, [server('s1', [row('simon', A), row('startup', B)])])).toEqual(['s1: startup runs here but is not in the manifest']);
  });
});

describe('a fleet service\'s port', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { fleetPort } = require('../../lib/fleet/fleet-deploy') as typeof import('../../lib/fleet/fleet-deploy');
  test('is the manifest\'s for a service it has; the next free on every server for a new one', () => {
    expect(fleetPort(manifest, { name: 'simon' })).toBe(3000);
    expect(fleetPort(manifest, { name: 'startup' }, [{ other: 3001 }, { another: 3002 }])).toBe(3003);
  });
  test('keeps the port a server already gives the service', () => {
    expect(fleetPort(emptyManifest(), { name: 'startup' }, [{ startup: 4000 }])).toBe(4000);
  });
  test('refuses a port taken in the manifest, saying which service has it', () => {
    expect(() => fleetPort(manifest, { name: 'startup', port: 3000 })).toThrow(/port 3000 is already assigned to "simon"/);
  });
});
