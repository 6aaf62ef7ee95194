import { renderCaddyfile } from '../caddy';
import { PortsideConfig } from '../config/portside-config';
import { EC2_PATHS, Registry, RegistryLoadBalancer, RegistryPaths, registryFromConfig, renderRegistry } from '../registry';

/** The metadata key on the instance under which the declared files travel to the server. */
export const SEED_METADATA_KEY = 'Portside';

/** The files a new server starts from, by the names the bootstrap expects in its seed folder. */
export interface SeedFiles {
  readonly 'registry.json': string;
  readonly Caddyfile: string;
  readonly 'index.html': string;
}

/** What the instance's `Metadata.Portside` holds: a version, so the bootstrap can refuse what it does not know. */
export interface SeedMetadata {
  readonly version: 1;
  readonly files: SeedFiles;
}

/**
 * The declared configuration as files: the registry, the Caddyfile rendered from it, and the home page.
 * Pure: the same config always gives the same files. `loadBalancer` makes them a fleet server's (see Registry).
 */
export function seedFiles(config: PortsideConfig, homePage: string, paths: RegistryPaths = EC2_PATHS, loadBalancer?: RegistryLoadBalancer): SeedFiles {
  const registry: Registry = registryFromConfig(config, paths, loadBalancer);
  return {
    'registry.json': renderRegistry(registry),
    Caddyfile: renderCaddyfile(registry),
    'index.html': homePage,
  };
}

export function seedMetadata(files: SeedFiles): SeedMetadata {
  return { version: 1, files };
}
