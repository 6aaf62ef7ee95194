import { UsageError } from '../../lib/errors';
import { batches, parseParallel, rollbackSet } from '../../lib/fleet/rollout-plan';
import { rollOut, RolloutFailed, RolloutSteps } from '../../lib/fleet/rollout';

/** A fleet of named servers whose deploys succeed unless told, recording every call in order. */
function fakeFleet(o: { fail?: string[]; later?: string[]; onRelease?: string[]; restoreFails?: string[]; booting?: (s: string) => boolean } = {}) {
  const calls: string[] = [];
  const lines: string[] = [];
  const steps: RolloutSteps<string, { previous: string }> = {
    label: (s) => s,
    deploy: async (s) => {
      calls.push(`deploy ${s}`);
      await new Promise((r) => setTimeout(r, 1));
      if (o.fail?.includes(s)) throw new Error(`probe failed on ${s}`);
      calls.push(`switched ${s}`);
      return { previous: `old-${s}` };
    },
    restore: async (s, deployed) => {
      calls.push(`restore ${s} to ${deployed.previous}`);
      if (o.restoreFails?.includes(s)) throw new Error('ssh: connection refused');
    },
    writeManifest: async () => void calls.push('manifest'),
    discover: async () => [...['s1', 's2', 's3', 's4'].slice(0, 4), ...(o.later ?? [])],
    isOnRelease: async (s) => (o.onRelease ?? []).includes(s),
    ...(o.booting ? { isBooting: async (s: string) => o.booting!(s) } : {}),
    log: (line) => void lines.push(line),
  };
  return { steps, calls, lines };
}

describe('rollout plan', () => {
  test('batches keep the fleet\'s order, parallel at a time', () => {
    expect(batches(['a', 'b', 'c', 'd', 'e'], 1)).toEqual([['a'], ['b'], ['c'], ['d'], ['e']]);
    expect(batches(['a', 'b', 'c', 'd', 'e'], 2)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(batches(['a', 'b', 'c'], 5)).toEqual([['a', 'b', 'c']]);
  });
  test('rollbackSet unwinds newest first', () => {
    expect(rollbackSet(['s1', 's2', 's3'])).toEqual(['s3', 's2', 's1']);
  });
  test.each(['0', '-1', '1.5', 'two', '17', ''])('--parallel %j is refused with the rule and an example', (text) => {
    expect(() => parseParallel(text)).toThrow(UsageError);
    expect(() => parseParallel(text)).toThrow(/whole number of servers from 1 to 16, e.g. --parallel 2/);
  });
  test('--parallel defaults to one server at a time', () => {
    expect(parseParallel(undefined)).toBe(1);
    expect(parseParallel('3')).toBe(3);
  });
});

describe('rollOut', () => {
  const servers = ['s1', 's2', 's3', 's4'];

  test('one at a time: each server switches before the next starts, and the manifest is written last', async () => {
    const { steps, calls } = fakeFleet({ onRelease: [] });
    const r = await rollOut(servers, 1, steps);
    expect(calls).toEqual(['deploy s1', 'switched s1', 'deploy s2', 'switched s2', 'deploy s3', 'switched s3', 'deploy s4', 'switched s4', 'manifest']);
    expect(r).toEqual({ switched: servers, caughtUp: [] });
  });

  test('--parallel 2 starts two servers together, the next batch after both switched', async () => {
    const { steps, calls } = fakeFleet();
    await rollOut(servers, 2, steps);
    expect(calls).toEqual(['deploy s1', 'deploy s2', 'switched s1', 'switched s2', 'deploy s3', 'deploy s4', 'switched s3', 'switched s4', 'manifest']);
  });

  test('a failure on server 3 puts servers 2 then 1 back, deploys to no other server and never writes the manifest', async () => {
    const { steps, calls } = fakeFleet({ fail: ['s3'] });
    const e = await rollOut(servers, 1, steps).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RolloutFailed);
    expect((e as RolloutFailed).message).toBe('deploy failed on s3: probe failed on s3; s2, s1 back on the previous release, manifest unchanged');
    expect(calls).toEqual(['deploy s1', 'switched s1', 'deploy s2', 'switched s2', 'deploy s3', 'restore s2 to old-s2', 'restore s1 to old-s1']);
  });

  test('a failure on server 1 changes no other server', async () => {
    const { steps, calls } = fakeFleet({ fail: ['s1'] });
    await expect(rollOut(servers, 1, steps)).rejects.toThrow('deploy failed on s1: probe failed on s1; no other server had changed, manifest unchanged');
    expect(calls).toEqual(['deploy s1']);
  });

  test('in a parallel batch, the neighbour that switched is put back too', async () => {
    const { steps, calls } = fakeFleet({ fail: ['s4'] });
    await expect(rollOut(servers, 2, steps)).rejects.toThrow(RolloutFailed);
    expect(calls.filter((c) => c.startsWith('restore'))).toEqual(['restore s3 to old-s3', 'restore s2 to old-s2', 'restore s1 to old-s1']);
    expect(calls).not.toContain('manifest');
  });

  test('a server that cannot be put back is named in the error, the others are still restored', async () => {
    const { steps, calls } = fakeFleet({ fail: ['s3'], restoreFails: ['s2'] });
    const e = (await rollOut(servers, 1, steps).catch((x: unknown) => x)) as RolloutFailed;
    expect(e.restored).toEqual(['s1']);
    expect(e.detail).toMatch(/not put back \(run portside rollback there\): s2: ssh: connection refused/);
    expect(calls).toContain('restore s1 to old-s1');
  });

  test('catch-up: a server found after the manifest moved that runs an older release is deployed to; one already on it is not', async () => {
    const { steps, calls } = fakeFleet({ later: ['s5', 's6'], onRelease: ['s6'] });
    const r = await rollOut(servers, 1, steps);
    expect(calls.slice(calls.indexOf('manifest'))).toEqual(['manifest', 'deploy s5', 'switched s5']);
    expect(r.caughtUp).toEqual(['s5']);
  });

  test('catch-up uses the catch-up step when there is one (converge), not a deploy', async () => {
    const { steps, calls } = fakeFleet({ later: ['s5'] });
    const r = await rollOut(servers, 1, { ...steps, catchUp: async (s) => void calls.push(`converge ${s}`) });
    expect(calls.slice(calls.indexOf('manifest'))).toEqual(['manifest', 'converge s5']);
    expect(r.caughtUp).toEqual(['s5']);
  });

  test('a catch-up failure leaves the manifest moved and says which server is behind', async () => {
    const { steps } = fakeFleet({ later: ['s5'], fail: ['s5'] });
    await expect(rollOut(servers, 1, steps)).rejects.toThrow(/the fleet moved to the new release, but 1 server\(s\) that joined during the rollout did not: s5: probe failed on s5/);
  });

  test('a booting server is joining, not a target: no deploy there (one would fail), nothing put back, the manifest moves', async () => {
    const { steps, calls, lines } = fakeFleet({ fail: ['s2'], booting: (s) => s === 's2' });
    const r = await rollOut(servers, 1, steps);
    expect(calls).toEqual(['deploy s1', 'switched s1', 'deploy s3', 'switched s3', 'deploy s4', 'switched s4', 'manifest']);
    expect(lines).toContain('s2 is booting: it converges to the new release itself');
    // Still booting at the catch-up: left to its boot, which reads the moved manifest before it ends.
    expect(lines).toContain('catch-up: s2 is booting: it converges to the new release itself');
    expect(r).toEqual({ switched: ['s1', 's3', 's4'], caughtUp: [] });
  });

  test('a server booting at its turn whose boot ended before the catch-up, on an older release, is caught up', async () => {
    let moved = false;
    const { steps, calls } = fakeFleet({ booting: (s) => s === 's2' && !moved });
    const r = await rollOut(servers, 1, { ...steps, writeManifest: async () => { moved = true; calls.push('manifest'); } });
    expect(calls).toEqual(['deploy s1', 'switched s1', 'deploy s3', 'switched s3', 'deploy s4', 'switched s4', 'manifest', 'deploy s2', 'switched s2']);
    expect(r.caughtUp).toEqual(['s2']);
  });

  test('a failure elsewhere puts back only the servers that switched, never the booting one', async () => {
    const { steps, calls } = fakeFleet({ fail: ['s3'], booting: (s) => s === 's2' });
    await expect(rollOut(servers, 1, steps)).rejects.toThrow('deploy failed on s3: probe failed on s3; s1 back on the previous release, manifest unchanged');
    expect(calls).toEqual(['deploy s1', 'switched s1', 'deploy s3', 'restore s1 to old-s1']);
  });

  test('an empty fleet is an error that says how to start a server', async () => {
    await expect(rollOut([], 1, fakeFleet().steps)).rejects.toThrow(/no running server/);
  });
});
