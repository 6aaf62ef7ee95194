import { CheckResult, CheckStatus, DoctorFacts, failed } from '../types';
import type { CheckFamily } from './family';

/**
 * The declared configuration seeds the registry; the CLI then adds and moves services. A service the
 * declaration lists but the server lacks is worth a warning on AWS. On the local stand-in the
 * declaration is only a seed, so differences are information.
 */
export function declaredChecks(f: DoctorFacts): CheckResult[] {
  if (failed(f.registry)) return [];
  const level: CheckStatus = f.target === 'local' ? 'info' : 'warn';
  if (failed(f.declared)) {
    return [{ id: 'drift.declared', status: 'warn', message: `the declared configuration (cdk.json context) is invalid: ${f.declared.error.split('\n')[0]}`, fix: 'fix cdk.json; npx cdk synth shows every problem' }];
  }
  const out: CheckResult[] = [];
  const reg = f.registry;
  const dec = f.declared;
  const fixCli = 'the registry wins on the server; update cdk.json\'s "services" to match, or deploy/remove the service';
  for (const [name, port] of Object.entries(dec.services)) {
    const actual = reg.services[name];
    if (actual === undefined) out.push({ id: `drift.declared.${name}`, status: level, message: `cdk.json declares "${name}" on port ${port}; the server's registry does not have it`, fix: fixCli });
    else if (actual !== port) out.push({ id: `drift.declared.${name}`, status: level, message: `cdk.json declares "${name}" on port ${port}; the server's registry has ${actual}`, fix: fixCli });
  }
  const extra = Object.keys(reg.services).filter((n) => dec.services[n] === undefined);
  if (extra.length) out.push({ id: 'drift.declared.extra', status: 'info', message: `registered on the server but not in cdk.json (deployed with the CLI): ${extra.join(', ')}` });
  if (f.target !== 'local' && (dec.domain ?? null) !== (reg.domain ?? null)) {
    out.push({
      id: 'drift.declared.domain', status: 'warn', message: `cdk.json's domain is ${dec.domain ?? 'unset'}, the server's registry serves ${reg.domain ?? 'no domain'}`,
      fix: 'npx cdk deploy after changing the domain re-seeds the server; or set cdk.json back',
    });
  }
  if (out.length === 0) out.push({ id: 'drift.declared', status: 'pass', message: 'every service cdk.json declares is registered on its declared port' });
  if (f.target === 'local' && out.some((r) => r.status === 'info' && r.id !== 'drift.declared.extra')) {
    out.push({ id: 'drift.declared.local', status: 'info', message: 'on the local server cdk.json only seeds the first registry; deploys change it from there' });
  }
  return out;
}

export const declaredFamily: CheckFamily = {
  name: 'declared', idPrefix: 'drift.declared', run: declaredChecks,
  looksAt: 'the declared configuration (cdk.json) against the server\'s registry: services, ports and the domain',
};
