import { UserError } from '../../errors';

/** The environment variable that turns the kept connection off (`0`) or sets how long it idles. */
export const PERSIST_ENV = 'PORTSIDE_SSH_PERSIST';

/**
 * How long a kept connection waits for the next command: 10 minutes, OpenSSH's ControlPersist as
 * people commonly set it (`ControlPersist 600`; man.openbsd.org/ssh_config, ControlPersist), longer than
 * Ansible's 60 s (its ssh plugin's default ssh_args, -o ControlPersist=60s:
 * https://docs.ansible.com/ansible/latest/collections/ansible/builtin/ssh_connection.html) because a
 * person editing and redeploying comes back within minutes, where a playbook's tasks follow each other at once.
 */
export const DEFAULT_IDLE_MS = 10 * 60_000;

const UNIT_MS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000 };
const MAX_IDLE_MS = 24 * 3_600_000;

/**
 * Whether to keep the SSH connection after a command, and for how long: PORTSIDE_SSH_PERSIST when
 * set (`0`/`off`/`no` → off; `90`, `90s`, `10m`, `1h` → that long idle, as ControlPersist reads a time),
 * else off when CI is set (a CI job's deploy is one-shot; a background process would outlive the step),
 * else DEFAULT_IDLE_MS.
 * @returns the idle time in ms, or null when off
 * @throws UserError when PORTSIDE_SSH_PERSIST is not one of those forms
 */
export function persistIdleMs(env: NodeJS.ProcessEnv): number | null {
  const raw = env[PERSIST_ENV];
  if (raw === undefined || raw === '') return isCi(env) ? null : DEFAULT_IDLE_MS;
  const value = raw.trim().toLowerCase();
  if (['0', 'off', 'no', 'false'].includes(value)) return null;
  const m = /^(\d+)(s|m|h)?$/.exec(value);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] ?? ''] : NaN;
  if (!m || ms === 0 || ms > MAX_IDLE_MS) {
    throw new UserError(`${PERSIST_ENV}="${raw}" is not a duration: use 0 (off) or a time up to 24h such as 90s, 10m or 1h (a bare number is seconds)`);
  }
  return ms;
}

/** CI set to anything but an explicit no (CI systems set CI=true; some users set CI=false to say otherwise). */
function isCi(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return !!ci && ci !== 'false' && ci !== '0';
}
