import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * The fleet's release store (issue #10): release tarballs named by their sha256 and the manifest, written by
 * the deploy CLI and read by every server. Private (all public access blocked), encrypted, reachable over TLS
 * only, versioned (an overwritten manifest can be recovered). Secrets never go here: they live in Parameter
 * Store (see FleetServers' role).
 */
export class ReleasesBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      // CloudFormation cannot delete a bucket that still holds objects: kept, `cdk destroy` succeeds and
      // leaves the releases behind (`aws s3 rb s3://<ReleasesBucketName> --force` removes them).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'Server access logs would need a second bucket and cost storage every month; the deploy CLI is the only writer and the servers only read, each with its own role.',
    });
  }
}
