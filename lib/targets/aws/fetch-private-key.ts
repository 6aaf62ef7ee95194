import { DescribeKeyPairsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { portsideHome } from '../../ssh/paths';
import { AwsTargetError, explainAwsError } from './aws-errors';

export interface FetchPrivateKeyOptions {
  /** The EC2 key pair name (`findServer().keyName`). */
  keyName: string;
  /** @default - a new EC2Client from the SDK's region chain */
  ec2?: EC2Client;
  /** @default - a new SSMClient from the SDK's region chain */
  ssm?: SSMClient;
  /** @default <PORTSIDE_HOME or ~/.portside>/keys */
  cacheDir?: string;
}

export interface FetchedKey {
  privateKey: string;
  keyPairId: string;
  /** The cached copy (mode 0600). */
  path: string;
  fromCache: boolean;
}

/**
 * The private key of an EC2 key pair that AWS created (CDK's `KeyPair` keeps it in SSM Parameter Store
 * as `/ec2/keypair/<KeyPairId>`), cached locally so SSM is asked once per key pair.
 * The key name is resolved to its id on every call: a stack destroyed and deployed again reuses the
 * name with a new key, and a stale cache hit would only show up later as an authentication failure.
 */
export async function fetchPrivateKey(opts: FetchPrivateKeyOptions): Promise<FetchedKey> {
  const ec2 = opts.ec2 ?? new EC2Client({});
  const cacheDir = opts.cacheDir ?? join(portsideHome(), 'keys');
  const keyPairId = await keyPairIdOf(ec2, opts.keyName);
  const path = join(cacheDir, `${keyPairId}.pem`);

  const cached = await readIfExists(path);
  if (cached) return { privateKey: cached, keyPairId, path, fromCache: true };

  const ssm = opts.ssm ?? new SSMClient({});
  const parameter = `/ec2/keypair/${keyPairId}`;
  let privateKey: string | undefined;
  try {
    privateKey = (await ssm.send(new GetParameterCommand({ Name: parameter, WithDecryption: true }))).Parameter?.Value;
  } catch (e) {
    if ((e as Error).name === 'ParameterNotFound') {
      throw new AwsTargetError(`the private key of EC2 key pair "${opts.keyName}" (${keyPairId}) is not in SSM ` +
        `(${parameter} does not exist): the key was imported from a public key (sshPublicKey), so only you hold it. ` +
        'Pass it with --key <private key file> (or PORTSIDE_KEY).');
    }
    explainAwsError(e, `reading SSM parameter ${parameter} (the private key of "${opts.keyName}")`);
  }
  if (!privateKey) throw new AwsTargetError(`SSM parameter ${parameter} is empty; pass the private key with --key <file>.`);

  await writePrivate(cacheDir, path, privateKey.endsWith('\n') ? privateKey : privateKey + '\n');
  return { privateKey, keyPairId, path, fromCache: false };
}

async function keyPairIdOf(ec2: EC2Client, keyName: string): Promise<string> {
  const doing = `looking up EC2 key pair "${keyName}"`;
  try {
    const out = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: [keyName] }));
    const id = out.KeyPairs?.[0]?.KeyPairId;
    if (id) return id;
  } catch (e) {
    if ((e as Error).name !== 'InvalidKeyPair.NotFound') explainAwsError(e, doing);
  }
  throw new AwsTargetError(`EC2 key pair "${keyName}" does not exist in this region (it may have been deleted). ` +
    'Pass the private key with --key <file>.');
}

/** Write beside and rename, mode 0600 in a 0700 directory, so no reader ever sees a partial or open key file. */
async function writePrivate(dir: string, path: string, content: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const tmp = `${path}.${process.pid}.tmp`;
  await fs.writeFile(tmp, content, { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, path);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
