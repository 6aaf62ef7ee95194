/**
 * The declared family (lib/doctor/checks/declared.ts): cdk.json's services and domain against the
 * server's registry. A warning on AWS; on the local stand-in cdk.json is only a seed, so a note.
 */
import { renderCaddyfile } from '../../lib/caddy';
import { declaredFamily } from '../../lib/doctor/checks/declared';
import type { DoctorFacts } from '../../lib/doctor';
import type { Registry } from '../../lib/registry';
import { byId, healthy, registry, run } from '../support/doctor-facts';

const serving = (reg: Registry, over: Partial<DoctorFacts> = {}): DoctorFacts => ({ ...healthy(), registry: reg, caddyfile: renderCaddyfile(reg), ...over });
const moved: Registry = { ...registry, services: { simon: 3000, startup: 4001, extra: 5000 } };

describe('declared configuration', () => {
  test('every declared service registered on its port: one pass', () => {
    expect(run(declaredFamily, healthy())).toEqual([{ id: 'drift.declared', status: 'pass', message: 'every service cdk.json declares is registered on its declared port' }]);
  });

  test('an unusable registry: nothing to compare (drift reports the registry)', () => {
    expect(run(declaredFamily, { ...healthy(), registry: { error: 'bad json' } })).toEqual([]);
  });

  test('an invalid declaration: a warning with its first line', () => {
    expect(run(declaredFamily, { ...healthy(), declared: { error: 'bad\nmore' } })).toEqual([{
      id: 'drift.declared', status: 'warn', message: 'the declared configuration (cdk.json context) is invalid: bad', fix: 'fix cdk.json; npx cdk synth shows every problem',
    }]);
  });

  test('on AWS a moved service warns; a service only the CLI deployed is a note', () => {
    expect(run(declaredFamily, serving(moved))).toEqual([
      { id: 'drift.declared.startup', status: 'warn', message: 'cdk.json declares "startup" on port 4000; the server\'s registry has 4001',
        fix: 'the registry wins on the server; update cdk.json\'s "services" to match, or deploy/remove the service' },
      { id: 'drift.declared.extra', status: 'info', message: 'registered on the server but not in cdk.json (deployed with the CLI): extra' },
    ]);
  });

  test('on the local server the same differences are notes, with why', () => {
    const r = run(declaredFamily, serving(moved, { target: 'local' }));
    expect(r.map((x) => [x.id, x.status])).toEqual([['drift.declared.startup', 'info'], ['drift.declared.extra', 'info'], ['drift.declared.local', 'info']]);
    expect(byId(r, 'drift.declared.local')?.message).toBe('on the local server cdk.json only seeds the first registry; deploys change it from there');
  });

  test('on the local server, only CLI-deployed extras need no explanation', () => {
    const extraOnly: Registry = { ...registry, services: { ...registry.services, extra: 5000 } };
    expect(run(declaredFamily, serving(extraOnly, { target: 'local' })).map((x) => x.id)).toEqual(['drift.declared.extra']);
  });

  test('a declared service the server lacks', () => {
    expect(byId(run(declaredFamily, serving({ ...registry, services: { simon: 3000 } })), 'drift.declared.startup')?.message)
      .toBe('cdk.json declares "startup" on port 4000; the server\'s registry does not have it');
  });

  test('a different domain warns on AWS and is not compared on the local server', () => {
    const other: Registry = { ...registry, domain: 'other.click' };
    expect(run(declaredFamily, serving(other))).toEqual([{
      id: 'drift.declared.domain', status: 'warn', message: 'cdk.json\'s domain is example.click, the server\'s registry serves other.click',
      fix: 'npx cdk deploy after changing the domain re-seeds the server; or set cdk.json back',
    }]);
    expect(run(declaredFamily, serving(other, { target: 'local' })).map((x) => x.id)).toEqual(['drift.declared']);
  });
});
