import { spawn } from 'node:child_process';
import { createServer, Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { readUpgradeGuardHandler, upgradeGuardRefusal } from '../../lib/stack';
import { onlyResource, templateOf } from './helpers';

/**
 * The upgrade guard's handler (lib/stack/upgrade-guard.py), run by this machine's python3 as Lambda would
 * call it: a CloudFormation custom resource event in, one response PUT to the event's ResponseURL out
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html). boto3 is a
 * stand-in that answers DescribeStackResource the way the API does: the resource's Metadata as a JSON string,
 * or a ValidationError "Resource X does not exist for stack Y" for a resource the stack does not have yet.
 */
const FAKE_BOTO3 = `
import json, os
class ClientError(Exception):
    pass
class _CloudFormation:
    def describe_stack_resource(self, StackName, LogicalResourceId):
        with open(os.environ['FAKE_CALLS'], 'a') as f:
            f.write(json.dumps({'StackName': StackName, 'LogicalResourceId': LogicalResourceId}) + '\\n')
        mode = os.environ['FAKE_MODE']
        if mode == 'missing':
            raise ClientError('An error occurred (ValidationError) when calling the DescribeStackResource operation: Resource %s does not exist for stack Portside' % LogicalResourceId)
        if mode == 'denied':
            raise ClientError('An error occurred (AccessDenied) when calling the DescribeStackResource operation: not authorized')
        return {'StackResourceDetail': {'LogicalResourceId': LogicalResourceId, 'Metadata': os.environ['FAKE_METADATA']}}
def client(name):
    assert name == 'cloudformation', name
    return _CloudFormation()
`;

const RUN = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location('index', sys.argv[1])
index = importlib.util.module_from_spec(spec)
spec.loader.exec_module(index)
index.handler(json.loads(sys.argv[2]), None)
`;

let dir: string;
let server: Server;
let responses: any[];
let url: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portside-guard-'));
  mkdirSync(join(dir, 'boto3'));
  writeFileSync(join(dir, 'boto3', '__init__.py'), FAKE_BOTO3);
  writeFileSync(join(dir, 'index.py'), readUpgradeGuardHandler());
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { responses.push({ method: req.method, contentType: req.headers['content-type'], body: JSON.parse(body) }); res.end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/response?X-Amz-Signature=abc`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => { responses = []; rmSync(join(dir, 'calls'), { force: true }); });

async function guard(requestType: string, mode: 'missing' | 'denied' | 'found', metadata: unknown = {}) {
  const event = {
    RequestType: requestType, ResponseURL: url, StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Portside/abc',
    RequestId: 'r-1', LogicalResourceId: 'ServerUpgradeGuardF6EEADE5', ResourceType: 'Custom::PortsideUpgradeGuard',
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: 'portside-upgrade-guard' }),
    ResourceProperties: { InstanceLogicalId: 'ServerInstanceE518391B', BootstrapKey: 'PortsideBootstrap', RefusalReason: upgradeGuardRefusal() },
  };
  // Asynchronously: the response PUT comes back to this process's server while python runs.
  const child = spawn('python3', ['-c', RUN, join(dir, 'index.py'), JSON.stringify(event)], {
    env: { PATH: process.env.PATH, PYTHONPATH: dir, FAKE_MODE: mode, FAKE_METADATA: JSON.stringify(metadata), FAKE_CALLS: join(dir, 'calls') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += c; });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  let calls: string[] = [];
  try { calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n'); } catch { /* none */ }
  return { status, stderr, responses, calls };
}

describe('the upgrade guard\'s handler', () => {
  test('a new stack (no instance yet) passes', async () => {
    const { status, responses: [response], calls } = await guard('Create', 'missing');
    expect(status).toBe(0);
    expect(response).toMatchObject({ method: 'PUT', contentType: '', body: { Status: 'SUCCESS', LogicalResourceId: 'ServerUpgradeGuardF6EEADE5', RequestId: 'r-1' } });
    expect(JSON.parse(calls[0])).toEqual({ StackName: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Portside/abc', LogicalResourceId: 'ServerInstanceE518391B' });
  });

  test('a stack whose server boots the stub (PortsideBootstrap in its metadata) passes', async () => {
    const { responses: [response] } = await guard('Create', 'found', { Portside: {}, PortsideBootstrap: { version: 1, script: '#!/bin/bash' } });
    expect(response.body.Status).toBe('SUCCESS');
  });

  test('a stack whose server an older Portside created fails, with the cause and the fix', async () => {
    const { status, responses: [response] } = await guard('Create', 'found', { Portside: { version: 1, files: {} } });
    expect(status).toBe(0);
    expect(response.body.Status).toBe('FAILED');
    expect(response.body.Reason).toBe(upgradeGuardRefusal());
    expect(response.body.Reason).toContain('npx cdk deploy -c legacyTemplate=portside-deployed.json');
  });

  test('an error reading the stack fails with that error, rather than guessing', async () => {
    const { responses: [response] } = await guard('Create', 'denied');
    expect(response.body.Status).toBe('FAILED');
    expect(response.body.Reason).toContain('Portside upgrade guard could not read the stack (An error occurred (AccessDenied)');
  });

  test.each(['Update', 'Delete'])('%s: passes without reading anything (the check is for the first deploy only)', async (type) => {
    const { responses: [response], calls } = await guard(type, 'denied');
    expect(response.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'portside-upgrade-guard' });
    expect(calls).toEqual([]);
  });
});

describe('the upgrade guard in the template', () => {
  const t = templateOf();
  test('the instance depends on it, so it runs before the instance is created or updated', () => {
    const guardId = onlyResource(t, 'Custom::PortsideUpgradeGuard').id;
    expect(onlyResource(t, 'AWS::EC2::Instance').resource.DependsOn).toContain(guardId);
  });

  test('its handler is inline (synth stays offline), small, and may read only this stack', () => {
    const fn = Object.values<any>(t.findResources('AWS::Lambda::Function'))
      .find((r) => r.Properties.Code.ZipFile !== undefined);
    expect(fn.Properties.Code.ZipFile).toBe(readUpgradeGuardHandler());
    expect(fn.Properties.Code.ZipFile.length).toBeLessThan(4096);
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'cloudformation:DescribeStackResource', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } }] },
      Roles: [{ Ref: Match.stringLikeRegexp('^ServerUpgradeGuardRole') }],
    });
  });
});
