/**
 * What the CLI tells a keeper it leaves behind, as one argv JSON argument: where to connect and which
 * host key to trust, exactly as the CLI's own connection did. No key material: the keeper reads the
 * key file itself.
 */
export interface KeeperConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly keyPath: string;
  readonly hostKeyAlias?: string;
  readonly knownHostsPath: string;
  readonly expectedFingerprints?: readonly string[];
  readonly expectedFingerprintsSource?: string;
  readonly label?: string;
  /** Portside's state folder: the keepers' folder is in it. */
  readonly home: string;
  /** The identity's hash (identity.ts): names the socket; the keeper checks it against what it reads. */
  readonly hash: string;
  readonly idleMs: number;
  /** The CLI's agent: a standby for it starts at once. */
  readonly agentPath?: string;
}
