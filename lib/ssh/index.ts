export * from './connection';
export { shellQuote, toShellLine } from './quote';
export { fingerprintOf } from './fingerprint';
export { portsideHome, defaultKnownHostsPath } from './paths';
