/**
 * The release store and SSM as a fleet server's `converge` reads them. scripts/build.js bundles this
 * file alone into dist/server/store.js (the AWS SDK is ~2 MB and ~0.1–0.5 s to load): the agent loads
 * it only for `converge`, so no other command pays for it. Read-only: the instance role can only read.
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import type { ConvergeHeader } from '../protocol';
import { ReleaseStore, storeClient, StoreLocation } from './release-store';
import { getServiceEnv } from './secrets';
import type { FleetManifest, ReleaseDescriptor, StaticDescriptor } from './store-layout';

/** What converge reads. */
export interface ServerStore {
  readonly bucket: string;
  readManifest(): Promise<{ manifest: FleetManifest; exists: boolean }>;
  readDescriptor(service: string, sha256: string): Promise<ReleaseDescriptor>;
  readRelease(service: string, sha256: string): Promise<Buffer>;
  readStatic(sha256: string): Promise<{ descriptor: StaticDescriptor; archive: Buffer }>;
  /** The service's env file from SSM, or null (none stored, or no SSM prefix configured). */
  serviceEnv(service: string): Promise<string | null>;
}

/** Where the store is: the header's, else the server's environment (EC2: /etc/default/portside). */
export function storeLocation(header: ConvergeHeader, env: NodeJS.ProcessEnv): StoreLocation {
  if (header.store) return header.store;
  const bucket = env.PORTSIDE_STORE_BUCKET;
  if (!bucket) throw new Error('no release store: PORTSIDE_STORE_BUCKET is not set (EC2: /etc/default/portside, written at boot), and the request named none');
  const keyId = env.PORTSIDE_STORE_ACCESS_KEY_ID;
  const secret = env.PORTSIDE_STORE_SECRET_ACCESS_KEY;
  return {
    bucket, endpoint: env.PORTSIDE_STORE_ENDPOINT || undefined, region: env.AWS_REGION || env.AWS_DEFAULT_REGION || env.PORTSIDE_REGION || undefined,
    credentials: keyId && secret ? { accessKeyId: keyId, secretAccessKey: secret } : undefined,
  };
}

/** The stack name in an SSM prefix `/portside/<stack>`, or an error naming the rule. */
function stackOfPrefix(prefix: string): string {
  const m = /^\/portside\/([A-Za-z][A-Za-z0-9-]*)$/.exec(prefix);
  if (!m) throw new Error(`PORTSIDE_PARAMETER_PREFIX ${JSON.stringify(prefix)} must be /portside/<stack name>, e.g. /portside/Portside`);
  return m[1];
}

/** The store and SSM for a converge request. */
export function openServerStore(header: ConvergeHeader, env: NodeJS.ProcessEnv = process.env): ServerStore {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const location = storeLocation(header, env);
  const store = new ReleaseStore(storeClient(location), location.bucket);
  const prefix = header.parameterPrefix ?? env.PORTSIDE_PARAMETER_PREFIX;
  const stack = prefix ? stackOfPrefix(prefix) : null;
  const ssm = stack ? new SSMClient({ region: location.region }) : null;
  return {
    bucket: location.bucket,
    readManifest: () => store.readManifest(),
    readDescriptor: (s, sha) => store.readDescriptor(s, sha),
    readRelease: (s, sha) => store.readRelease(s, sha),
    readStatic: (sha) => store.readStatic(sha),
    serviceEnv: async (s) => (ssm && stack ? getServiceEnv(ssm, stack, s) : null),
  };
}
