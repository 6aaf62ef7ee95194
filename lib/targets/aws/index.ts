export { AwsTargetError } from './aws-errors';
export { consoleHostKeyFingerprints, parseHostKeyFingerprints, type ConsoleFingerprintOptions } from './console-fingerprints';
export { fetchPrivateKey, type FetchedKey, type FetchPrivateKeyOptions } from './fetch-private-key';
export { findServer, type FindServerOptions, type FoundServer } from './find-server';
