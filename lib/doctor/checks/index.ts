import { CheckResult, DoctorFacts } from '../types';
import { capacityChecks } from './capacity';
import { dnsChecks } from './dns';
import { driftChecks } from './drift';
import { exposureChecks } from './exposure';
import { healthChecks } from './health';
import { securityGroupChecks } from './security-group';
import { socketChecks } from './sockets';
import { tlsChecks } from './tls';

export { SITE_KEY } from './health';

/** Every check, in report order. Pure: the same facts always give the same results. */
export function runChecks(f: DoctorFacts): CheckResult[] {
  return [
    ...exposureChecks(f), ...securityGroupChecks(f), ...socketChecks(f), ...driftChecks(f),
    ...healthChecks(f), ...tlsChecks(f), ...dnsChecks(f), ...capacityChecks(f),
  ];
}
