/**
 * A fleet service's env file in SSM Parameter Store (SecureString, encrypted with the account's
 * aws/ssm key), at `/portside/<stack>/<service>/env`: never in the release store, never logged. The
 * rollout writes it; a server's `converge` reads it (the instance role may read only that prefix).
 */
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { UserError } from '../errors';
import { secretParameterName } from './store-layout';

/**
 * Standard parameters hold at most 4 KB ("Standard parameters have a value limit of 4 KB. Advanced parameters
 * have a value limit of 8 KB", https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html;
 * the service's own refusal counts "4096 characters"). Counted here in UTF-8 bytes, never fewer than the
 * characters. The advanced tier is paid, so it is not used.
 */
export const MAX_SECRET_BYTES = 4096;

/**
 * PutParameter refuses a value holding text in double braces: "You can't include values wrapped in double
 * brackets {{}} or {{ssm:parameter-name}} in a parameter value" (the same page).
 */
const DOUBLE_BRACES = /\{\{[^]*?\}\}/;

/**
 * Why Parameter Store would refuse this env file, or null. Says where, never what: the file holds secrets.
 */
export function serviceEnvProblem(service: string, env: string): { message: string; detail: string } | null {
  const bytes = Buffer.byteLength(env, 'utf8');
  if (bytes > MAX_SECRET_BYTES) {
    return {
      message: `the env file for "${service}" is ${bytes} bytes; an SSM standard parameter holds at most ${MAX_SECRET_BYTES} (a fleet keeps each env file in one)`,
      detail: 'Move large values (certificates, keys) out of it, e.g. into a file deployed with the service, and keep the env file under 4 KB.',
    };
  }
  const braces = DOUBLE_BRACES.exec(env);
  if (braces) {
    const line = env.slice(0, braces.index).split('\n').length;
    return {
      message: `the env file for "${service}" has text in double braces {{…}} on line ${line}; Parameter Store, where a fleet keeps env files, refuses such a value`,
      detail: 'Write that value without "{{" and "}}" (e.g. build it at start-up from two variables).',
    };
  }
  return null;
}

/** Throws a UserError when Parameter Store would refuse the env file (serviceEnvProblem); changes nothing. */
export function checkServiceEnv(service: string, env: string): void {
  const problem = serviceEnvProblem(service, env);
  if (problem) throw new UserError(problem.message, problem.detail);
}

/** Store a service's env file; replaces the previous value (SSM keeps the history of versions). */
export async function putServiceEnv(ssm: SSMClient, stackName: string, service: string, env: string): Promise<void> {
  const name = secretParameterName(stackName, service);
  checkServiceEnv(service, env);
  await ssm.send(new PutParameterCommand({ Name: name, Value: env, Type: 'SecureString', Overwrite: true, Description: `Portside: env file of ${service}` }));
}

/** A service's env file, or null when it has none. */
export async function getServiceEnv(ssm: SSMClient, stackName: string, service: string): Promise<string | null> {
  try {
    const r = await ssm.send(new GetParameterCommand({ Name: secretParameterName(stackName, service), WithDecryption: true }));
    return r.Parameter?.Value ?? null;
  } catch (e) {
    if ((e as Error).name === 'ParameterNotFound') return null;
    throw e;
  }
}
