import { serviceNameProblem } from '../config/validators';
import { UsageError } from '../errors';

/**
 * The name, or a UsageError with the value and the rule. Every command that takes a service name
 * calls it before connecting, so the message is written once.
 */
export function checkServiceName(name: string): string {
  const p = serviceNameProblem(name);
  if (p) throw new UsageError(`invalid service name ${JSON.stringify(name)}: ${p}`);
  return name;
}
