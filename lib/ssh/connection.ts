import { Client, type ConnectConfig, type VerifyCallback } from 'ssh2';
import { describeDestination, explainConnectError, type Destination } from './connect-errors';
import { RemoteCommandError, SshConnectionError } from './errors';
import { execOnChannel, type ExecOptions, type ExecResult } from './exec-channel';
import { checkHostKey } from './host-verifier';
import { pingServer } from './ping';
import { defaultKnownHostsPath } from './paths';
import { toShellLine } from './quote';
import { Semaphore } from './semaphore';

export type { ExecOptions, ExecResult } from './exec-channel';
export { HostKeyMismatchError, RemoteAbortError, RemoteCommandError, RemoteTimeoutError, SshConnectionError } from './errors';

/** Where and as whom to connect, and which host key to trust. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /**
   * The name the host key is pinned under in the known-hosts file, when the address may be reused by
   * another server (an Elastic IP moving to a rebuilt instance): e.g. the instance id. @default host
   */
  hostKeyAlias?: string;
  /** Never logged and never put into an error message. */
  privateKey: Buffer | string;
  /** Portside's own known-hosts file. @default ~/.portside/known_hosts (dir overridable by env PORTSIDE_HOME) */
  knownHostsPath?: string;
  /** On first contact, the host key must match one of these (SHA256:… as OpenSSH prints). When absent, trust on first use and pin. */
  expectedFingerprints?: readonly string[];
  /** Where `expectedFingerprints` came from, named when the key does not match. @default "the expected fingerprints given" */
  expectedFingerprintsSource?: string;
  /** Shown in messages, e.g. "the local server" or "EC2 i-0abc (Portside)". */
  label?: string;
  readyTimeoutMs?: number; // @default 10000
}

/** One SSH connection; every exec opens its own channel on it. */
export interface SshSession {
  /** The server's host key fingerprint, `SHA256:…`. */
  readonly hostKeyFingerprint: string;
  /** Run argv (quoted by `toShellLine`); resolves with the exit code whatever it is. */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Run the agent at `agentPath` with `command`, as exec(launchAgentArgv(agentPath, command)) does, with
   * the same result; present on a kept connection, which may hand over a standby agent started ahead.
   */
  execAgent?(agentPath: string, command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Like exec, but throws RemoteCommandError on a non-zero exit. */
  run(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/**
 * Channels in flight at once. OpenSSH's default MaxSessions is 10 per connection; staying below it
 * leaves room and turns a burst of concurrent execs into a short queue instead of "open failed".
 */
const MAX_CONCURRENT_CHANNELS = 8;

/** A session that can also tell whether the server still answers: what a kept connection (lib/ssh/keeper) needs. */
export interface LiveSession extends SshSession {
  /** One round trip to the server (an SSH keepalive request): true when it answered within `timeoutMs`. */
  ping(timeoutMs: number): Promise<boolean>;
  /** Settles when the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;
}
const DEFAULT_READY_TIMEOUT_MS = 10_000;

/**
 * Connect, verify the host key before authenticating (pinning it on first use), and return a session.
 * @throws HostKeyMismatchError before any authentication or command when the key is not the trusted one
 * @throws SshConnectionError for refused / timeout / unreachable / auth failures, with the fix in the message
 */
export async function openSsh(target: SshTarget): Promise<LiveSession> {
  const dest: Destination = { ...target, readyTimeoutMs: target.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS };
  const where = describeDestination(target);
  const client = new Client();
  const hostKey: HostKeyOutcome = { fingerprint: '' };
  await connect(client, {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey: target.privateKey,
    readyTimeout: dest.readyTimeoutMs,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    hostVerifier: hostKeyVerifier(target, where, hostKey),
  }, dest, () => hostKey.error);
  return new Session(client, hostKey.fingerprint, where);
}

/** What the host-key check found; ssh2 calls the verifier mid-handshake, so it is read once that settles. */
interface HostKeyOutcome {
  fingerprint: string;
  /** Why the key was refused: it explains the failed connection better than ssh2's own error. */
  error?: Error;
}

/** ssh2's `hostVerifier`: check the key against the pin (or the expected fingerprints), noting the outcome. */
function hostKeyVerifier(target: SshTarget, where: string, outcome: HostKeyOutcome): (key: Buffer, verify: VerifyCallback) => void {
  return (key, verify) => {
    checkHostKey(
      {
        host: target.hostKeyAlias ?? target.host,
        port: target.port,
        knownHostsPath: target.knownHostsPath ?? defaultKnownHostsPath(),
        expectedFingerprints: target.expectedFingerprints,
        expectedFrom: target.expectedFingerprintsSource,
        label: target.label,
      },
      key,
    ).then(
      (check) => {
        outcome.fingerprint = check.fingerprint;
        if (!check.ok) outcome.error = check.error;
        verify(check.ok);
      },
      (e: Error) => {
        outcome.error = new SshConnectionError('other', target.host, target.port, target.user,
          `could not check the host key of ${where}: ${e.message}`);
        verify(false);
      },
    );
  };
}

/**
 * Connect `client` and resolve once it is ready; reject with the explained error (the host-key check's
 * own, from `refusedKey`, when there is one) and destroy the client on the first failure.
 */
function connect(client: Client, config: ConnectConfig, dest: Destination, refusedKey: () => Error | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      client.removeListener('ready', onReady);
      // ssh2 can report more than one error for a dying connection (timeout, then "connection lost");
      // the first one explains it, the rest must not surface as unhandled 'error' events.
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      client.destroy();
      reject(e);
    };
    const onError = (err: Error & { code?: string; level?: string }) => fail(refusedKey() ?? explainConnectError(err, dest));
    const onClose = () => fail(refusedKey() ?? explainConnectError(
      Object.assign(new Error('connection lost before handshake'), { code: 'ECONNRESET' }), dest));
    const onReady = () => {
      // The error listener stays (a no-op once settled), so nothing goes unhandled before the session takes over.
      settled = true;
      resolve();
    };
    client.once('ready', onReady).on('error', onError).once('close', onClose);
    try {
      client.connect(config);
      // Nagle's algorithm held each exec request behind the server's delayed ACK: ~40 ms per command
      // (measured on the stand-in: channel open 42–49 ms with it, ~1 ms without). Our writes are whole packets.
      client.setNoDelay(true);
    } catch (e) {
      // ssh2 parses the key synchronously; its messages describe the format, never the key itself.
      fail(explainConnectError(e as Error, dest));
    }
  });
}

class Session implements LiveSession {
  private readonly slots = new Semaphore(MAX_CONCURRENT_CHANNELS);
  private gone: Error | undefined;
  private closing: Promise<void> | undefined;
  readonly closed: Promise<void>;

  constructor(private readonly client: Client, public readonly hostKeyFingerprint: string, private readonly where: string) {
    // After connecting, errors surface through the channels; an unhandled 'error' would crash the process.
    client.on('error', (e: Error) => {
      this.gone ??= new Error(`the SSH connection to ${where} failed: ${e.message}`);
    });
    this.closed = new Promise((resolve) => client.once('close', () => {
      this.gone ??= new Error(`the SSH connection to ${where} closed before the command finished`);
      resolve();
    }));
  }

  ping(timeoutMs: number): Promise<boolean> {
    if (this.gone || this.closing) return Promise.resolve(false);
    return pingServer(this.client, timeoutMs);
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const command = toShellLine(argv);
    if (this.gone || this.closing) throw this.gone ?? new Error(`the SSH session to ${this.where} is closed`);
    await this.slots.acquire();
    try {
      return await execOnChannel(this.client, command, opts, () => this.gone);
    } finally {
      this.slots.release();
    }
  }

  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.exec(argv, opts);
    if (result.code !== 0) throw new RemoteCommandError(toShellLine(argv), result.code, result.stderr, result.stdout, this.where);
    return result;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.gone) return resolve();
      const timer = setTimeout(() => { this.client.destroy(); resolve(); }, 2000);
      this.client.once('close', () => { clearTimeout(timer); resolve(); });
      this.client.end();
    });
    return this.closing;
  }
}
