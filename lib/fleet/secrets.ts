/**
 * A fleet service's env file in SSM Parameter Store (SecureString, encrypted with the account's
 * aws/ssm key), at `/portside/<stack>/<service>/env`: never in the release store, never logged. The
 * rollout writes it; a server's `converge` reads it (the instance role may read only that prefix).
 */
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { secretParameterName } from './store-layout';

/** Standard parameters hold at most 4 KB; an env file larger than that needs the advanced tier (paid). */
export const MAX_SECRET_BYTES = 4096;

/** Store a service's env file; replaces the previous value (SSM keeps the history of versions). */
export async function putServiceEnv(ssm: SSMClient, stackName: string, service: string, env: string): Promise<void> {
  const name = secretParameterName(stackName, service);
  const bytes = Buffer.byteLength(env, 'utf8');
  if (bytes > MAX_SECRET_BYTES) {
    throw new Error(`the env file for "${service}" is ${bytes} bytes; an SSM standard parameter holds at most ${MAX_SECRET_BYTES}: move large values (certificates, keys) out of it`);
  }
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
