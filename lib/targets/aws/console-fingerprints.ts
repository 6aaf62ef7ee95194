import { EC2Client, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import { explainAwsError } from './aws-errors';

export interface ConsoleFingerprintOptions {
  instanceId: string;
  /** @default - a new EC2Client from the SDK's region chain */
  ec2?: EC2Client;
}

const BEGIN = '-----BEGIN SSH HOST KEY FINGERPRINTS-----';
const END = '-----END SSH HOST KEY FINGERPRINTS-----';

/**
 * The host key fingerprints cloud-init printed to the instance's console at first boot: a source of
 * truth for the host key that does not come over the (not yet trusted) SSH connection.
 * Empty when the console output is not available yet (it can take minutes after boot).
 */
export async function consoleHostKeyFingerprints(opts: ConsoleFingerprintOptions): Promise<string[]> {
  const ec2 = opts.ec2 ?? new EC2Client({});
  const doing = `reading the console output of ${opts.instanceId}`;
  let output: string | undefined;
  try {
    output = (await ec2.send(new GetConsoleOutputCommand({ InstanceId: opts.instanceId, Latest: true }))).Output;
  } catch (e) {
    // `Latest` is only supported on Nitro instance types; older ones still have the buffered output.
    if (!/Unsupported|InvalidParameter/i.test((e as Error).name ?? '')) explainAwsError(e, doing);
    try {
      output = (await ec2.send(new GetConsoleOutputCommand({ InstanceId: opts.instanceId }))).Output;
    } catch (e2) {
      explainAwsError(e2, doing);
    }
  }
  if (!output) return [];
  return parseHostKeyFingerprints(Buffer.from(output, 'base64').toString('utf8'));
}

/**
 * Parse the last fingerprint block in console text. Lines look like
 * `ec2: 256 SHA256:abc… root@ip-10-0-0-1 (ED25519)` (the `ec2:` prefix is cloud-init's).
 */
export function parseHostKeyFingerprints(consoleText: string): string[] {
  const lines = consoleText.split(/\r?\n/);
  const begin = lines.map((l) => l.includes(BEGIN)).lastIndexOf(true);
  if (begin === -1) return [];
  const found: string[] = [];
  for (const line of lines.slice(begin + 1)) {
    if (line.includes(END)) return found;
    const m = /\bSHA256:([A-Za-z0-9+/]+)=*/.exec(line);
    if (m) found.push(`SHA256:${m[1]}`);
  }
  return []; // a block cut off before its end line (64 KB window) is not trusted
}
