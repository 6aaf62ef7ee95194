# Portside's upgrade guard: a custom resource created once per stack, before the instance is created or
# updated. It refuses to be created in a stack whose server an older Portside created (its instance has no
# PortsideBootstrap metadata): deploying this version there would stop that server and then wait for a boot
# signal it never sends. The refusal carries the fix. See lib/stack/upgrade-guard.ts.
import json
import urllib.request

import boto3


def respond(event, status, reason):
    # The custom resource response: a PUT of JSON to the presigned ResponseURL, empty Content-Type
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html).
    body = json.dumps({
        'Status': status, 'Reason': reason[:3500],
        'PhysicalResourceId': event.get('PhysicalResourceId') or 'portside-upgrade-guard',
        'StackId': event['StackId'], 'RequestId': event['RequestId'], 'LogicalResourceId': event['LogicalResourceId'],
    }).encode()
    request = urllib.request.Request(event['ResponseURL'], data=body, method='PUT', headers={'Content-Type': ''})
    urllib.request.urlopen(request, timeout=30).read()


def verdict(event, cloudformation):
    props = event['ResourceProperties']
    try:
        detail = cloudformation.describe_stack_resource(
            StackName=event['StackId'], LogicalResourceId=props['InstanceLogicalId'])['StackResourceDetail']
    except Exception as e:
        # A new stack: "(ValidationError) ... DescribeStackResource operation: Resource X does not exist for
        # stack Y", as users report it (github.com/jpsim/AWSPics/issues/14).
        if 'does not exist' in str(e):
            return 'SUCCESS', 'a new stack: no server yet'
        return 'FAILED', 'Portside upgrade guard could not read the stack (%s)' % e
    metadata = json.loads(detail.get('Metadata') or '{}')
    if props['BootstrapKey'] in metadata:
        return 'SUCCESS', 'the server boots the UserData stub'
    return 'FAILED', props['RefusalReason']


def handler(event, context):
    try:
        if event['RequestType'] == 'Create':
            status, reason = verdict(event, boto3.client('cloudformation'))
        else:
            status, reason = 'SUCCESS', 'nothing to check'
    except Exception as e:
        status, reason = 'FAILED', 'Portside upgrade guard failed: %s' % e
    print(json.dumps({'RequestType': event.get('RequestType'), 'Status': status, 'Reason': reason}))
    respond(event, status, reason)
