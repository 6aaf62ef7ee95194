/**
 * When the registry is lost or corrupt, the doctor's fix names what exists: the newest saved version
 * to restore, and always the rebuild from the server; never "a backup" the server does not have.
 */
import { driftChecks } from '../../lib/doctor/checks/drift';
import { DoctorFacts } from '../../lib/doctor/types';

/** Only what the drift checks read when the registry is unusable. */
const lost = (over: Partial<DoctorFacts>): DoctorFacts => ({ registry: { error: 'it does not exist' }, registryText: null, registryHistory: [], ...over }) as unknown as DoctorFacts;

describe('doctor: the registry cannot be used', () => {
  test('no saved version: says so, and names the rebuild', () => {
    const [r] = driftChecks(lost({}));
    expect(r).toMatchObject({ id: 'drift.registry', status: 'fail', message: 'the registry (~/.portside/registry.json) cannot be used: it does not exist' });
    expect(r.fix).toBe('no saved version exists on the server (~/.portside/registry.history/ is empty); run `portside services` (or any deploy): '
      + 'it rebuilds the registry from the server itself (release manifests, pm2, the live Caddyfile) and says what it found');
    expect(r.fix).not.toMatch(/backup/);
  });

  test('missing, with saved versions: names the newest one and the command that restores it', () => {
    const [r] = driftChecks(lost({ registryHistory: ['20261130T073821.447Z-000.json', '20261130T073814.596Z-000.json'] }));
    expect(r.fix).toMatch(/; or restore the newest saved version: cp ~\/\.portside\/registry\.history\/20261130T073821\.447Z-000\.json ~\/\.portside\/registry\.json && chmod 600 ~\/\.portside\/registry\.json$/);
  });

  test('corrupt, with saved versions: the corrupt file is moved aside first, never overwritten', () => {
    const [r] = driftChecks(lost({ registry: { error: 'not valid JSON' }, registryText: '{', registryHistory: ['20261130T073821.447Z-000.json'] }));
    expect(r.fix).toContain('mv ~/.portside/registry.json ~/.portside/registry.json.bad && cp ~/.portside/registry.history/20261130T073821.447Z-000.json ~/.portside/registry.json');
  });
});
