import { CheckResult, DoctorFacts } from '../types';
import { capacityFamily } from './capacity';
import { declaredFamily } from './declared';
import { dnsFamily } from './dns';
import { driftFamily } from './drift';
import { exposureFamily } from './exposure';
import type { CheckFamily } from './family';
import { healthFamily } from './health';
import { securityGroupFamily } from './security-group';
import { socketsFamily } from './sockets';
import { tlsFamily } from './tls';
import { toolsFamily } from './tools';

export type { CheckFamily } from './family';
export { SITE_KEY } from './health';

/** Every family of checks, one file each, in report order. */
export const CHECK_FAMILIES: readonly CheckFamily[] = [
  exposureFamily, securityGroupFamily, socketsFamily, driftFamily, declaredFamily,
  healthFamily, tlsFamily, dnsFamily, capacityFamily, toolsFamily,
];

/** Every check, in report order. Pure: the same facts always give the same results. */
export function runChecks(f: DoctorFacts): CheckResult[] {
  return CHECK_FAMILIES.flatMap((family) => family.run(f));
}
