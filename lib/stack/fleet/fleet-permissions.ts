import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * Where a fleet's secrets live in Parameter Store: `/portside/<stack>`, each service's env file a
 * SecureString at `<prefix>/<service>/env` (the fleet contract). Never in the releases bucket.
 */
export function secretsParameterPrefix(stack: Stack): string {
  return `/portside/${stack.stackName}`;
}

/**
 * What a fleet server reads besides its own metadata, and nothing more (no writes anywhere):
 * - the releases bucket's objects (s3:GetObject), and s3:ListBucket on the bucket so that a key that is not
 *   there answers 404 rather than 403: "If you have the s3:ListBucket permission on the bucket, Amazon S3
 *   returns an HTTP status code 404 Not Found error" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html);
 *   a server converging before the first deploy must tell "no manifest yet" from "denied";
 * - its stack's secrets (ssm:GetParameter, ssm:GetParameters) under secretsParameterPrefix.
 * No kms:Decrypt: SecureStrings are encrypted with the AWS managed key aws/ssm, which "grants Decrypt permission
 * to all IAM principals in the AWS account" (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html).
 * The boot's cfn-signal needs no permission either (see assets/bootstrap.sh, signal_resource).
 */
export function fleetServerStatements(stack: Stack, bucket: s3.IBucket): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }),
    new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
    new iam.PolicyStatement({
      actions: ['ssm:GetParameter', 'ssm:GetParameters'],
      resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${secretsParameterPrefix(stack).slice(1)}/*` })],
    }),
  ];
}
