/**
 * The doctor's checks are families, one file each (lib/doctor/checks/<name>.ts), run in report order.
 * Every id a family returns carries its prefix, whatever the facts, so a report line leads to its file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { doctorCommand } from '../../lib/cli/commands/doctor';
import { CHECK_FAMILIES, DoctorFacts, runChecks } from '../../lib/doctor';
import { healthy, noDomain, outsideSees, ss } from '../support/doctor-facts';

/** Facts that make every family say something other than pass. */
function troubled(): DoctorFacts[] {
  const f = healthy();
  return [
    f, noDomain(), { ...noDomain(), target: 'local' },
    { ...outsideSees(f, 7777, 'open'), sockets: ss(['LISTEN 0 511 0.0.0.0:7777 0.0.0.0:* users:(("node",pid=4242,fd=18))'], ':443') },
    { ...f, registry: { error: 'bad json' }, pm2: { error: 'boom' }, sockets: { error: 'ss failed' }, capacity: { error: 'x' }, securityGroup: { error: 'denied' } },
    { ...f, declared: { error: 'bad' }, pm2: [], folders: [], tools: { node: null, npm: null, pm2: null }, securityGroup: [] },
    { ...f, direct: {}, viaCaddy: {}, certificates: [{ host: 'x' }], dns: [{ name: 'x', addresses: [] }], capacity: { diskFreeBytes: 1, diskTotalBytes: 2, memAvailableBytes: 1, memTotalBytes: 2 } },
  ];
}

describe('check families', () => {
  test('ten families, each in the file named after it', () => {
    expect(CHECK_FAMILIES.map((f) => f.name)).toEqual(['exposure', 'security-group', 'sockets', 'drift', 'declared', 'health', 'tls', 'dns', 'capacity', 'tools']);
    for (const family of CHECK_FAMILIES) {
      expect(existsSync(join(__dirname, '..', '..', 'lib', 'doctor', 'checks', `${family.name}.ts`))).toBe(true);
      expect(family.looksAt).toMatch(/^\S.{20,}[^.]$/);
    }
  });

  test('every id a family returns starts with its prefix, and no other family claims it more closely', () => {
    for (const facts of troubled()) {
      for (const family of CHECK_FAMILIES) {
        for (const r of family.run(facts)) {
          const claimants = CHECK_FAMILIES.filter((g) => r.id.startsWith(g.idPrefix));
          const closest = claimants.sort((a, b) => b.idPrefix.length - a.idPrefix.length)[0];
          expect([r.id, closest?.name]).toEqual([r.id, family.name]);
        }
      }
    }
  });

  test('runChecks is the families in order, nothing added or dropped', () => {
    for (const facts of troubled()) expect(runChecks(facts)).toEqual(CHECK_FAMILIES.flatMap((f) => f.run(facts)));
  });

  test('no id appears twice in one report', () => {
    for (const facts of troubled()) {
      const ids = runChecks(facts).map((r) => r.id);
      expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    }
  });

  test('doctor --help names every family, in report order (its text is kept beside the command so --help loads no check)', () => {
    const usage = doctorCommand.usage;
    const positions = CHECK_FAMILIES.map((f) => usage.search(new RegExp(`^  ${f.name} `, 'm')));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });
});
