export * from './types';
export { CHECK_FAMILIES, runChecks } from './checks';
export type { CheckFamily } from './checks';
export { gatherFacts } from './gather';
export type { GatherOptions } from './gather';
export { formatReport, summary } from './report';
export { parseSs } from './parse-ss';
export { readSecurityGroupRules } from './aws-security-group';
