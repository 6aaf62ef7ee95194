export * from './types';
export { runChecks } from './checks';
export { gatherFacts } from './gather';
export type { GatherOptions } from './gather';
export { formatReport, summary } from './report';
export { parseSs } from './parse-ss';
export { readSecurityGroupRules } from './aws-security-group';
