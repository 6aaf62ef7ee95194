/** The one list of steps (lib/protocol/steps.ts): order, what commits, and each command's steps. */
import { COMMAND_STEPS, COMMIT_STEPS, isStepName, STEPS, stepInfo } from '../../lib/protocol';

describe('the step list', () => {
  test('a deploy runs upload, install, probe, switch, route, verify, save, in that order', () => {
    expect(COMMAND_STEPS.deploy).toEqual(['upload', 'install', 'probe', 'switch', 'route', 'verify', 'save']);
  });

  test('every command lists its steps in the order of STEPS, each step once', () => {
    const order = STEPS.map((s) => s.name);
    for (const [command, steps] of Object.entries(COMMAND_STEPS)) {
      const positions = steps.map((s) => order.indexOf(s));
      expect({ command, positions }).toEqual({ command, positions: [...positions].sort((a, b) => a - b) });
      expect(new Set(steps).size).toBe(steps.length);
    }
  });

  test('the steps that commit are the switch, a route change, a stop and a purge (Ctrl-C stops the agent only before them)', () => {
    expect([...COMMIT_STEPS]).toEqual(['stop', 'switch', 'route', 'purge']);
    expect(COMMIT_STEPS.has('upload')).toBe(false);
    expect(COMMIT_STEPS.has('verify')).toBe(false);
  });

  test('in every command that changes a server, nothing before its first committing step changes what is served', () => {
    for (const command of ['deploy', 'deploy-files', 'rollback'] as const) {
      const first = COMMAND_STEPS[command].findIndex((s) => COMMIT_STEPS.has(s));
      expect(COMMAND_STEPS[command][first]).toBe('switch');
    }
  });

  test('each step says what it does, in one line', () => {
    for (const s of STEPS) expect(s.does).toMatch(/^[^\n]{20,160}$/);
    expect(stepInfo('probe').does).toMatch(/spare port/);
  });

  test('a name that is not a step is refused with the list', () => {
    expect(isStepName('upload')).toBe(true);
    expect(isStepName('deploy')).toBe(false);
    expect(() => stepInfo('nope' as never)).toThrow('unknown step "nope": the steps are upload, install, probe, stop, switch, route, verify, save, purge');
  });
});
