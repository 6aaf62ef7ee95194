/** What the stand-in's sshd_config depends on. */
export interface SshdConfigInput {
  readonly listenAddress: string;
  readonly port: number;
  readonly user: string;
  readonly hostKey: string;
  readonly pidFile: string;
  /** PATH for sessions: where node, npm and pm2 are. */
  readonly path: string;
}

/**
 * The stand-in's sshd_config (pure). Key-only, one user, no root, like the EC2 server; the session
 * PATH is set here because a non-interactive SSH session reads no profile.
 */
export function renderSshdConfig(c: SshdConfigInput): string {
  return [
    '# Written by `portside local up` for the local stand-in server; not the host\'s sshd.',
    `ListenAddress ${c.listenAddress}`,
    `Port ${c.port}`,
    `HostKey ${c.hostKey}`,
    `PidFile ${c.pidFile}`,
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitEmptyPasswords no',
    'PermitRootLogin no',
    `AllowUsers ${c.user}`,
    // No PAM: its session modules expect a full system (systemd-logind) the namespace does not have.
    'UsePAM no',
    'StrictModes yes',
    'X11Forwarding no',
    'AllowTcpForwarding yes',
    'PrintMotd no',
    'PrintLastLog no',
    // All e2e suites share this server and may connect at once.
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'ClientAliveInterval 30',
    `SetEnv PATH=${c.path}`,
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}
