/**
 * The release store through @aws-sdk/client-s3 (an S3 bucket on AWS, the local fleet's S3-compatible
 * store): the manifest, release archives and their descriptors, under the keys of store-layout.ts.
 * Secrets never come here: see secrets.ts.
 */
import { createReadStream } from 'node:fs';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { UserError } from '../errors';
import type { ReleaseArchive } from './release-archive';
import {
  agentKey, descriptorKey, parseStaticDescriptor, RELEASES_PREFIX, StaticDescriptor, staticDescriptorKey, staticKey, emptyManifest, FleetManifest, MANIFEST_KEY, parseDescriptor, parseManifest, releaseKey, ReleaseDescriptor, renderManifest,
} from './store-layout';

/** Where the store is. */
export interface StoreLocation {
  readonly bucket: string;
  /** An S3-compatible endpoint (the local fleet's store). @default - AWS S3 in `region` */
  readonly endpoint?: string;
  /** @default - the SDK's chain (AWS_REGION, the profile) */
  readonly region?: string;
  /** Fixed credentials (the local store's throwaway pair). @default - the SDK's default provider chain (on EC2: the instance role through IMDSv2) */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** An S3 client for a location: path-style addressing for an S3-compatible endpoint (no bucket DNS names there). */
export function storeClient(l: StoreLocation): S3Client {
  return new S3Client({
    region: l.region ?? 'us-east-1',
    ...(l.endpoint ? { endpoint: l.endpoint, forcePathStyle: true } : {}),
    ...(l.credentials ? { credentials: l.credentials } : {}),
  });
}

const isMissing = (e: unknown): boolean => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
};

export class ReleaseStore {
  constructor(private readonly s3: S3Client, public readonly bucket: string) {}

  /** The fleet's manifest; a fleet nothing was deployed to has none yet (an empty one is returned). */
  async readManifest(): Promise<{ manifest: FleetManifest; exists: boolean }> {
    const text = await this.getText(MANIFEST_KEY);
    return text === null ? { manifest: emptyManifest(), exists: false } : { manifest: parseManifest(text), exists: true };
  }

  /** Write the manifest: the last write of a rollout, so every object it names is already there. */
  async writeManifest(m: FleetManifest): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: MANIFEST_KEY, Body: renderManifest(m), ContentType: 'application/json' }));
  }

  /** Upload a release archive unless the store has it (same sha256, same bytes), then its descriptor. Says whether it sent the archive. */
  async putRelease(archive: ReleaseArchive, d: ReleaseDescriptor): Promise<boolean> {
    const key = releaseKey(d.service, archive.sha256);
    const present = await this.has(key);
    if (!present) {
      await this.s3.send(new PutObjectCommand({
        Bucket: this.bucket, Key: key, Body: createReadStream(archive.path), ContentLength: archive.size, ContentType: 'application/gzip',
      }));
    }
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: descriptorKey(d.service, archive.sha256), Body: `${JSON.stringify(d)}\n`, ContentType: 'application/json' }));
    return !present;
  }

  /** Upload a static site archive unless the store has it, then its descriptor. Says whether it sent the archive. */
  async putStatic(archive: ReleaseArchive, d: StaticDescriptor): Promise<boolean> {
    const present = await this.has(staticKey(archive.sha256));
    if (!present) {
      await this.s3.send(new PutObjectCommand({
        Bucket: this.bucket, Key: staticKey(archive.sha256), Body: createReadStream(archive.path), ContentLength: archive.size, ContentType: 'application/gzip',
      }));
    }
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: staticDescriptorKey(archive.sha256), Body: `${JSON.stringify(d)}\n`, ContentType: 'application/json' }));
    return !present;
  }

  /** The static site release's descriptor and archive bytes (the caller checks their sha256). */
  async readStatic(sha256: string): Promise<{ descriptor: StaticDescriptor; archive: Buffer }> {
    const text = await this.getText(staticDescriptorKey(sha256));
    if (text === null) throw new UserError(`the store has no descriptor for the static site's release ${sha256}`, 'The manifest names a release that is not in the store: run deploy-files again.');
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: staticKey(sha256) }));
    return { descriptor: parseStaticDescriptor(text, sha256), archive: Buffer.from(await r.Body!.transformToByteArray()) };
  }

  /** Upload the agent bundle of a version unless the store has it (the key is its version, a hash of its files). */
  async putAgent(version: string, archive: ReleaseArchive): Promise<boolean> {
    const key = agentKey(version);
    if (await this.has(key)) return false;
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: createReadStream(archive.path), ContentLength: archive.size, ContentType: 'application/gzip' }));
    return true;
  }

  /** A release's descriptor, checked against the key it was read under. */
  async readDescriptor(service: string, sha256: string): Promise<ReleaseDescriptor> {
    const text = await this.getText(descriptorKey(service, sha256));
    if (text === null) throw new UserError(`the store has no descriptor for ${service}'s release ${sha256} (${descriptorKey(service, sha256)})`, 'The manifest names a release that is not in the store: deploy the service again.');
    return parseDescriptor(text, service, sha256);
  }

  /** The descriptor of a service's release with this agent release id (a rollback's target), or null. */
  async findDescriptor(service: string, releaseId: string): Promise<ReleaseDescriptor | null> {
    const prefix = `${RELEASES_PREFIX}${service}/`;
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const sha = /^([0-9a-f]{64})\.json$/.exec(o.Key!.slice(prefix.length))?.[1];
        if (!sha) continue;
        const d = await this.readDescriptor(service, sha);
        if (d.releaseId === releaseId) return d;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return null;
  }

  /** A release archive's bytes (the caller checks their sha256). */
  async readRelease(service: string, sha256: string): Promise<Buffer> {
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: releaseKey(service, sha256) }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  async has(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  private async getText(key: string): Promise<string | null> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await r.Body!.transformToString('utf8');
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }
}
