import {
  DescribeInstancesCommand, DescribeKeyPairsCommand, EC2Client, GetConsoleOutputCommand, type Instance, type InstanceStateName,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleHostKeyFingerprints, fetchPrivateKey, findServer, parseHostKeyFingerprints } from '../../lib/targets/aws';
import { SERVER_TAG_KEY } from '../../lib/stack/server-tag';

// Not a key: the armour line alone, assembled so that no file in the repository looks like one.
const FAKE_KEY_BEGIN = ['-----BEGIN', 'OPENSSH PRIVATE KEY-----'].join(' ');
const FAKE_KEY_END = ['-----END', 'OPENSSH PRIVATE KEY-----'].join(' ');

const ec2 = new EC2Client({ region: 'us-west-2' });
const ssm = new SSMClient({ region: 'us-west-2' });
const ec2Mock = mockClient(ec2);
const ssmMock = mockClient(ssm);
beforeEach(() => { ec2Mock.reset(); ssmMock.reset(); });

const instance = (over: Omit<Partial<Instance>, 'State'> & { State?: { Name: string } } = {}): Instance => ({
  InstanceId: 'i-0abc', PublicIpAddress: '203.0.113.7', KeyName: 'portside-key', ...over,
  State: { Name: (over.State?.Name ?? 'running') as InstanceStateName },
});
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

describe('findServer', () => {
  test('finds the one live instance tagged with the stack name', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance()] }] });
    await expect(findServer({ ec2 })).resolves.toEqual({
      instanceId: 'i-0abc', publicIp: '203.0.113.7', state: 'running', keyName: 'portside-key',
    });
    const input = ec2Mock.commandCalls(DescribeInstancesCommand)[0].args[0].input;
    expect(input.Filters).toEqual([
      { Name: `tag:${SERVER_TAG_KEY}`, Values: ['Portside'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
  });

  test('uses the given stack name and follows pagination', async () => {
    ec2Mock.on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [], NextToken: 't1' })
      .resolvesOnce({ Reservations: [{ Instances: [instance()] }] });
    await findServer({ ec2, stackName: 'Staging' });
    const calls = ec2Mock.commandCalls(DescribeInstancesCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0].args[0].input.Filters![0].Values).toEqual(['Staging']);
    expect(calls[1].args[0].input.NextToken).toBe('t1');
  });

  test('no credentials: says how to log in, and --host as the way around', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(named('CredentialsProviderError', 'Could not load credentials from any providers'));
    await expect(findServer({ ec2 })).rejects.toThrow(/no AWS credentials found.*aws configure.*--host/s);
  });

  test('no instance: names the tag and region, suggests cdk deploy and --host', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await expect(findServer({ ec2 })).rejects.toThrow(/no EC2 instance tagged portside:server=Portside in us-west-2.*cdk deploy.*--host/s);
  });

  test('more than one instance: lists them', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [instance()] }, { Instances: [instance({ InstanceId: 'i-0def', State: { Name: 'stopped' } })] }],
    });
    await expect(findServer({ ec2 })).rejects.toThrow(/2 EC2 instances are tagged .*i-0abc \(running\), i-0def \(stopped\).*--host/s);
  });

  test.each(['stopped', 'stopping'])('%s instance: gives the start-instances command', async (state) => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance({ State: { Name: state } })] }] });
    await expect(findServer({ ec2 })).rejects.toThrow(
      new RegExp(`is ${state}.*aws ec2 start-instances --instance-ids i-0abc --region us-west-2.*--host`, 's'));
  });

  test('no public IP: says so, with --host', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance({ PublicIpAddress: undefined })] }] });
    await expect(findServer({ ec2 })).rejects.toThrow(/i-0abc .* has no public IP address.*--host/s);
  });
});

describe('fetchPrivateKey', () => {
  let cacheDir: string;
  beforeEach(() => { cacheDir = join(mkdtempSync(join(tmpdir(), 'portside-keys-')), 'keys'); });
  afterEach(() => rmSync(join(cacheDir, '..'), { recursive: true, force: true }));
  const PEM = `${FAKE_KEY_BEGIN}\nnot-a-real-key\n${FAKE_KEY_END}\n`;

  test('key name → KeyPairId → SSM /ec2/keypair/<id> with decryption, cached 0600 in a 0700 dir', async () => {
    ec2Mock.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyName: 'portside-key', KeyPairId: 'key-0123' }] });
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: PEM } });
    const got = await fetchPrivateKey({ keyName: 'portside-key', ec2, ssm, cacheDir });
    expect(got).toEqual({ privateKey: PEM, keyPairId: 'key-0123', path: join(cacheDir, 'key-0123.pem'), fromCache: false });
    expect(ec2Mock.commandCalls(DescribeKeyPairsCommand)[0].args[0].input).toEqual({ KeyNames: ['portside-key'] });
    expect(ssmMock.commandCalls(GetParameterCommand)[0].args[0].input).toEqual({ Name: '/ec2/keypair/key-0123', WithDecryption: true });
    expect(readFileSync(got.path, 'utf8')).toBe(PEM);
    expect(statSync(got.path).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
  });

  test('the second call reads the cache: zero SSM calls', async () => {
    ec2Mock.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyPairId: 'key-0123' }] });
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: PEM } });
    await fetchPrivateKey({ keyName: 'portside-key', ec2, ssm, cacheDir });
    ssmMock.resetHistory();
    const again = await fetchPrivateKey({ keyName: 'portside-key', ec2, ssm, cacheDir });
    expect(again).toMatchObject({ privateKey: PEM, fromCache: true });
    expect(ssmMock.calls()).toHaveLength(0);
  });

  test('a key pair recreated under the same name (new id) is fetched again, not served stale', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: PEM } });
    ec2Mock.on(DescribeKeyPairsCommand).resolvesOnce({ KeyPairs: [{ KeyPairId: 'key-old' }] }).resolvesOnce({ KeyPairs: [{ KeyPairId: 'key-new' }] });
    await fetchPrivateKey({ keyName: 'portside-key', ec2, ssm, cacheDir });
    const second = await fetchPrivateKey({ keyName: 'portside-key', ec2, ssm, cacheDir });
    expect(second).toMatchObject({ keyPairId: 'key-new', fromCache: false });
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  test('an imported key (no SSM parameter): says to pass --key', async () => {
    ec2Mock.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyPairId: 'key-0123' }] });
    ssmMock.on(GetParameterCommand).rejects(named('ParameterNotFound'));
    await expect(fetchPrivateKey({ keyName: 'mine', ec2, ssm, cacheDir })).rejects.toThrow(/imported from a public key.*--key/s);
  });

  test('an unknown key pair name: says to pass --key', async () => {
    ec2Mock.on(DescribeKeyPairsCommand).rejects(named('InvalidKeyPair.NotFound', "The key pair 'x' does not exist"));
    await expect(fetchPrivateKey({ keyName: 'x', ec2, ssm, cacheDir })).rejects.toThrow(/key pair "x" does not exist.*--key/s);
  });

  test('no credentials: explained, with --host', async () => {
    ec2Mock.on(DescribeKeyPairsCommand).rejects(named('CredentialsProviderError', 'Could not load credentials from any providers'));
    await expect(fetchPrivateKey({ keyName: 'x', ec2, ssm, cacheDir })).rejects.toThrow(/no AWS credentials.*--host/s);
  });

  test('the key never appears in an error', async () => {
    ec2Mock.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyPairId: 'key-0123' }] });
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: PEM } });
    rmSync(join(cacheDir, '..'), { recursive: true, force: true });
    // a cache dir that cannot be created (a file is in the way) makes the write fail after the fetch
    const blocked = join(tmpdir(), `portside-blocked-${process.pid}`);
    writeFileSync(blocked, '');
    const e = await fetchPrivateKey({ keyName: 'x', ec2, ssm, cacheDir: join(blocked, 'keys') }).catch((x) => x);
    rmSync(blocked);
    expect(String(e.message)).not.toContain('not-a-real-key');
  });
});

describe('consoleHostKeyFingerprints', () => {
  const consoleText = [
    'Ubuntu 24.04 LTS ip-10-0-0-5 ttyS0',
    'ec2: #############################################################',
    'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
    'ec2: 256 SHA256:ecdsaFingerprint0123456789abcdefghijklmnopqrs root@ip-10-0-0-5 (ECDSA)',
    'ec2: 256 SHA256:ed25519Fingerprint+/0123456789abcdefghijklmnop root@ip-10-0-0-5 (ED25519)',
    'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
    'ec2: #############################################################',
    '-----BEGIN SSH HOST KEY KEYS-----',
    'ecdsa-sha2-nistp256 AAAA... root@ip-10-0-0-5',
    '-----END SSH HOST KEY KEYS-----',
  ].join('\r\n');
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  test('decodes the latest console output and returns the SHA256 fingerprints', async () => {
    ec2Mock.on(GetConsoleOutputCommand).resolves({ Output: b64(consoleText) });
    await expect(consoleHostKeyFingerprints({ instanceId: 'i-0abc', ec2 })).resolves.toEqual([
      'SHA256:ecdsaFingerprint0123456789abcdefghijklmnopqrs',
      'SHA256:ed25519Fingerprint+/0123456789abcdefghijklmnop',
    ]);
    expect(ec2Mock.commandCalls(GetConsoleOutputCommand)[0].args[0].input).toEqual({ InstanceId: 'i-0abc', Latest: true });
  });

  test('empty console output (first minutes after boot) → empty list', async () => {
    ec2Mock.on(GetConsoleOutputCommand).resolves({});
    await expect(consoleHostKeyFingerprints({ instanceId: 'i-0abc', ec2 })).resolves.toEqual([]);
  });

  test('no fingerprint block, or one cut off before its end → empty list', () => {
    expect(parseHostKeyFingerprints('booting...\n')).toEqual([]);
    expect(parseHostKeyFingerprints('-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 SHA256:abc root@h (ED25519)\n')).toEqual([]);
  });

  test('several boots: the last block wins', () => {
    const two = '-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 SHA256:old x (ED25519)\n-----END SSH HOST KEY FINGERPRINTS-----\n' +
      '-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 SHA256:new x (ED25519)\n-----END SSH HOST KEY FINGERPRINTS-----\n';
    expect(parseHostKeyFingerprints(two)).toEqual(['SHA256:new']);
  });

  test('instance types without `Latest` support: retried without it', async () => {
    ec2Mock.on(GetConsoleOutputCommand, { InstanceId: 'i-0abc', Latest: true }).rejects(named('UnsupportedOperation'));
    ec2Mock.on(GetConsoleOutputCommand, { InstanceId: 'i-0abc' }).resolves({ Output: b64(consoleText) });
    await expect(consoleHostKeyFingerprints({ instanceId: 'i-0abc', ec2 })).resolves.toHaveLength(2);
  });

  test('no credentials: explained, with --host', async () => {
    ec2Mock.on(GetConsoleOutputCommand).rejects(named('CredentialsProviderError', 'Could not load credentials from any providers'));
    await expect(consoleHostKeyFingerprints({ instanceId: 'i-0abc', ec2 })).rejects.toThrow(/no AWS credentials.*--host/s);
  });
});
