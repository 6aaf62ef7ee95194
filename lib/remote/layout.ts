/**
 * Where things live on a Portside server, relative to the deploy user's home (an SSH session starts
 * there, so no absolute home path is ever needed). EC2 and the local stand-in share this layout;
 * only the static site and the Caddyfile differ, and the registry records those (`Registry.paths`).
 *
 *   ~/.portside/registry.json           the service registry (REGISTRY_PATH)
 *   ~/.portside/lock/                   the per-server deploy lock (mkdir is atomic); owner.json inside
 *   ~/.portside/bin/                    Portside's helper scripts on the server (agent, preload)
 *   ~/services/<name>/releases/<id>/    one folder per release
 *   ~/services/<name>/current           symlink → releases/<id> (switched atomically)
 *   ~/services/<name>/deploys.json      release history: id, deployed at, by
 *   <paths.www>/releases/<id>/, <paths.www>/current   the static site, the same way
 */
export const PORTSIDE_DIR = '.portside';
export const LOCK_DIR = `${PORTSIDE_DIR}/lock`;
export const BIN_DIR = `${PORTSIDE_DIR}/bin`;
export const SERVICES_DIR = 'services';
export const KEEP_RELEASES = 5;

export function serviceDir(name: string): string {
  return `${SERVICES_DIR}/${name}`;
}
export function releasesDir(name: string): string {
  return `${serviceDir(name)}/releases`;
}
export function releaseDir(name: string, id: string): string {
  return `${releasesDir(name)}/${id}`;
}
export function currentLink(name: string): string {
  return `${serviceDir(name)}/current`;
}
