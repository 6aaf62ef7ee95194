/** Whether a fleet server is booting: its boot converge (lib/fleet/portside-converge.sh) is still running. */
import { dirname } from 'node:path';
import { parseRegistry } from '../registry';
import { BOOTING_MARKER_FILE, REGISTRY_FILE } from '../remote/layout';
import type { SshSession } from '../ssh';

/**
 * The booting marker beside the health marker (where the registry's Caddyfile is). A server that cannot be
 * read counts as not booting: the rollout's deploy there then says what is wrong, as before this check.
 */
export async function isBooting(ssh: SshSession): Promise<boolean> {
  try {
    const registry = await ssh.exec(['cat', REGISTRY_FILE]);
    if (registry.code !== 0) return false;
    const caddyDir = dirname(parseRegistry(registry.stdout).paths.caddyfile);
    return (await ssh.exec(['test', '-e', `${caddyDir}/${BOOTING_MARKER_FILE}`])).code === 0;
  } catch {
    return false;
  }
}
