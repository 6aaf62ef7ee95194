/** A remote command exited non-zero (thrown by `SshSession.run`). Carries what the caller needs to explain it. */
export class RemoteCommandError extends Error {
  constructor(
    /** The shell line that ran (argv quoted by `toShellLine`; stdin is never included). */
    public readonly command: string,
    public readonly code: number,
    public readonly stderr: string,
    public readonly stdout: string,
    where = '',
  ) {
    const tail = lastLines(stderr.trim() || stdout.trim(), 10);
    super(`remote command failed with exit code ${code}${where ? ` on ${where}` : ''}: ${command}${tail ? `\n${tail}` : ''}`);
    this.name = 'RemoteCommandError';
  }
}

/** The server's host key is not the one pinned (or not one of the expected fingerprints). Raised before authentication. */
export class HostKeyMismatchError extends Error {
  constructor(
    public readonly host: string,
    /** The fingerprint(s) we trusted, comma-separated. */
    public readonly expected: string,
    public readonly received: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostKeyMismatchError';
  }
}

export type SshConnectFailure = 'refused' | 'timeout' | 'unreachable' | 'dns' | 'auth' | 'key' | 'closed' | 'other';

/** Could not open the SSH connection; `reason` says which way it failed, the message says how to fix it. */
export class SshConnectionError extends Error {
  constructor(
    public readonly reason: SshConnectFailure,
    public readonly host: string,
    public readonly port: number,
    public readonly user: string,
    message: string,
  ) {
    super(message);
    this.name = 'SshConnectionError';
  }
}

/** A remote command outlived `timeoutMs`; its channel was closed. */
export class RemoteTimeoutError extends Error {
  constructor(public readonly command: string, public readonly timeoutMs: number) {
    super(`remote command did not finish within ${timeoutMs} ms and was stopped: ${command}`);
    this.name = 'RemoteTimeoutError';
  }
}

/** `ExecOptions.signal` fired; the channel was closed and the remote process sent SIGHUP. */
export class RemoteAbortError extends Error {
  constructor(public readonly command: string) {
    super(`remote command aborted: ${command}`);
    this.name = 'AbortError';
  }
}

function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  return lines.length > n ? ['…', ...lines.slice(-n)].join('\n') : text;
}
