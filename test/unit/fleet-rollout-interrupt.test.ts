import { interruptScope, NEVER_STOP } from '../../lib/deploy/interrupt-scope';
import { rollOut, RolloutInterrupted, RolloutSteps } from '../../lib/fleet/rollout';
import { RolloutInterrupt } from '../../lib/fleet/rollout-interrupt';

/**
 * A fleet whose servers deploy in order; `onDeploy` runs while a server's deploy is in progress (the
 * moment a test presses Ctrl-C). With `agentStops`, a deploy in progress behaves as an agent asked to
 * stop before its switch: it fails (the agent undid it) instead of switching.
 */
function fleetWithCtrlC(o: { onDeploy?: (s: string, stop: RolloutInterrupt) => void; onRestore?: (s: string, stop: RolloutInterrupt) => void; agentStops?: boolean } = {}) {
  const calls: string[] = [];
  const lines: string[] = [];
  const exits: number[] = [];
  const stop = new RolloutInterrupt((l) => lines.push(l), (code) => void exits.push(code));
  const steps: RolloutSteps<string, { previous: string }> = {
    label: (s) => s,
    deploy: async (s) => {
      calls.push(`deploy ${s}`);
      let asked = false;
      const unlisten = interruptScope.getStore()?.onStop(() => { asked = true; });
      o.onDeploy?.(s, stop);
      await new Promise((r) => setTimeout(r, 1));
      unlisten?.();
      if (asked && o.agentStops) throw new Error(`stopped at your request (Ctrl-C) before switch on ${s}`);
      calls.push(`switched ${s}`);
      return { previous: `old-${s}` };
    },
    restore: async (s, deployed) => {
      calls.push(`restore ${s} to ${deployed.previous}${interruptScope.getStore() === NEVER_STOP ? ' (shielded)' : ''}`);
      o.onRestore?.(s, stop);
    },
    writeManifest: async () => void calls.push('manifest'),
    discover: async () => ['s1', 's2', 's3'],
    isOnRelease: async () => true,
    interrupt: stop,
    log: (l) => lines.push(l),
  };
  return { steps, calls, lines, exits };
}

const servers = ['s1', 's2', 's3'];
const pressAt = (server: string, times = 1) => (s: string, stop: RolloutInterrupt) => {
  if (s === server) for (let i = 0; i < times; i++) stop.press();
};

describe('Ctrl-C during a rollout', () => {
  test('while server 2 switches: it finishes, then 2 and 1 go back newest first, 3 is never started, no manifest, exit 130', async () => {
    const { steps, calls, lines } = fleetWithCtrlC({ onDeploy: pressAt('s2') });
    const e = (await rollOut(servers, 1, steps).catch((x: unknown) => x)) as RolloutInterrupted;
    expect(e).toBeInstanceOf(RolloutInterrupted);
    expect(e.exitCode).toBe(130);
    expect(e.message).toBe('interrupted (Ctrl-C): s2, s1 back on the previous release, manifest unchanged');
    expect(e.detail).toBe('now: s1 put back: as before; s2 put back: as before; s3 not started: as before');
    expect(calls).toEqual(['deploy s1', 'switched s1', 'deploy s2', 'switched s2', 'restore s2 to old-s2 (shielded)', 'restore s1 to old-s1 (shielded)']);
    expect(lines).toContain('stopped (Ctrl-C): putting s2, s1 back on the previous release; the manifest stays as it was');
    expect(lines[lines.length - 1]).toBe('stopped (Ctrl-C): putting s2, s1 back on the previous release; the manifest stays as it was');
  });

  test('the server in progress is asked to stop before its switch; when its agent stops, only the servers before it go back', async () => {
    const { steps, calls } = fleetWithCtrlC({ onDeploy: pressAt('s2'), agentStops: true });
    const e = (await rollOut(servers, 1, steps).catch((x: unknown) => x)) as RolloutInterrupted;
    expect(e.message).toBe('interrupted (Ctrl-C): s1 back on the previous release, manifest unchanged');
    expect(e.detail).toMatch(/^now: s1 put back: as before; s2 not switched: its agent put it back; s3 not started: as before\nfailed meanwhile: s2: stopped at your request/);
    expect(calls).toEqual(['deploy s1', 'switched s1', 'deploy s2', 'restore s1 to old-s1 (shielded)']);
  });

  test('a press before the agent call subscribes still reaches it (the stop is asked at once)', async () => {
    const { steps, calls } = fleetWithCtrlC({ agentStops: true });
    const stop = steps.interrupt!;
    const deploy = steps.deploy;
    steps.deploy = async (s) => {
      if (s === 's2') stop.press();
      return deploy(s);
    };
    await expect(rollOut(servers, 1, steps)).rejects.toThrow('interrupted (Ctrl-C): s1 back on the previous release, manifest unchanged');
    expect(calls).not.toContain('switched s2');
  });

  test('in a --parallel batch, every server of the batch that switched goes back too', async () => {
    const { steps, calls } = fleetWithCtrlC({ onDeploy: pressAt('s3') });
    await expect(rollOut([...servers, 's4'], 2, steps)).rejects.toThrow('interrupted (Ctrl-C): s4, s3, s2, s1 back on the previous release, manifest unchanged');
    expect(calls.filter((c) => c.startsWith('restore'))).toHaveLength(4);
    expect(calls).not.toContain('manifest');
  });

  test('a second Ctrl-C says where each server is and changes nothing; a third leaves at once with exit 130', async () => {
    const { steps, lines, exits, calls } = fleetWithCtrlC({ onDeploy: pressAt('s2'), onRestore: (s, stop) => s === 's2' && (stop.press(), stop.press()) });
    await rollOut(servers, 1, steps).catch(() => undefined);
    expect(lines).toContain('Ctrl-C again: still putting servers back. Now: s1 switched; s2 being put back; s3 not started: as before. '
      + 'Ctrl-C once more to leave at once (a server not yet put back stays on the new release)');
    expect(lines).toContain('leaving now (third Ctrl-C), the manifest unchanged. Now: s1 switched; s2 being put back; s3 not started: as before. '
      + 'A server\'s agent finishes the step it is in on its own; check with portside services --fleet');
    expect(exits).toEqual([130]);
    // exit() is a fake here, so the put-back went on: the first press alone never leaves early.
    expect(calls).toContain('restore s1 to old-s1 (shielded)');
  });

  test('Ctrl-C during the put-back after a failure warns first, never stops the put-back', async () => {
    const { steps, lines, exits, calls } = fleetWithCtrlC({ onRestore: (s, stop) => s === 's2' && stop.press() });
    const deploy = steps.deploy;
    steps.deploy = async (s) => (s === 's3' ? Promise.reject(new Error('probe failed on s3')) : deploy(s));
    await expect(rollOut(servers, 1, steps)).rejects.toThrow('deploy failed on s3: probe failed on s3; s2, s1 back on the previous release, manifest unchanged');
    expect(lines.some((l) => l.startsWith('Ctrl-C again: still putting servers back.'))).toBe(true);
    expect(exits).toEqual([]);
    expect(calls).toContain('restore s1 to old-s1 (shielded)');
  });

  test('no Ctrl-C: the rollout listens for SIGINT only while it runs', async () => {
    const before = process.listenerCount('SIGINT');
    const { steps, calls } = fleetWithCtrlC();
    steps.isOnRelease = async () => true;
    await rollOut(servers, 1, steps);
    expect(calls[calls.length - 1]).toBe('manifest');
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
