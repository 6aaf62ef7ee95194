/**
 * Whether a fleet server is booting: cloud-init has not finished the instance's first boot (the bootstrap
 * in its user data, then the boot converge, are still to come), or the boot converge
 * (lib/fleet/portside-converge.sh) is running.
 */
import { dirname } from 'node:path';
import { parseRegistry } from '../registry';
import { BOOTING_MARKER_FILE, REGISTRY_FILE } from '../remote/layout';
import type { SshSession } from '../ssh';

/** cloud-init's state folder on Ubuntu. */
export const CLOUD_INIT_DIR = '/var/lib/cloud';

/**
 * cloud-init manages this machine and has not finished with this instance. An instance accepts SSH logins
 * after cloud-init's Network stage, long before its Final stage runs the user data (our bootstrap, minutes
 * of apt installs) — https://docs.cloud-init.io/en/latest/explanation/boot.html ("Boot stages"); and
 * /var/lib/cloud/instance is the link to the current instance's folder, in which "the boot-finished file is
 * the last thing that cloud-init creates" — https://docs.cloud-init.io/en/latest/development/internal_files.html.
 * A machine without cloud-init (the local stand-ins, a server built by hand) has no such folder: not booting.
 * A constant command (the folder is CLOUD_INIT_DIR; tests give a temporary one): nothing of the user's reaches this shell.
 */
export function cloudInitUnfinishedCommand(cloudDir = CLOUD_INIT_DIR): string {
  return `test -d ${cloudDir}/instance && test ! -e ${cloudDir}/instance/boot-finished`;
}

/**
 * Booting: cloud-init unfinished (see cloudInitUnfinishedCommand), or the booting marker beside the health marker
 * (where the registry's Caddyfile is). A server that cannot be read counts as not booting: the rollout's
 * deploy there then says what is wrong, as before this check.
 */
export async function isBooting(ssh: SshSession): Promise<boolean> {
  const [cloudInit, marker] = await Promise.all([cloudInitUnfinished(ssh), bootMarkerPresent(ssh)]);
  return cloudInit || marker;
}

/** Whether cloud-init has yet to finish with this instance; false when that cannot be asked. @param cloudDir @default CLOUD_INIT_DIR */
export async function cloudInitUnfinished(ssh: Pick<SshSession, 'exec'>, cloudDir = CLOUD_INIT_DIR): Promise<boolean> {
  try {
    return (await ssh.exec(['sh', '-c', cloudInitUnfinishedCommand(cloudDir)])).code === 0;
  } catch {
    return false;
  }
}

async function bootMarkerPresent(ssh: SshSession): Promise<boolean> {
  try {
    const registry = await ssh.exec(['cat', REGISTRY_FILE]);
    if (registry.code !== 0) return false;
    const caddyDir = dirname(parseRegistry(registry.stdout).paths.caddyfile);
    return (await ssh.exec(['test', '-e', `${caddyDir}/${BOOTING_MARKER_FILE}`])).code === 0;
  } catch {
    return false;
  }
}
