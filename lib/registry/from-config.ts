import { PortsideConfig } from '../config/portside-config';
import { Registry, RegistryPaths } from './registry';

/** Where an EC2 server keeps the static site and its Caddyfile (the bootstrap lays these out). */
export const EC2_PATHS: RegistryPaths = { www: '/var/www/portside', caddyfile: '/etc/portside/Caddyfile' };

/** The registry a freshly bootstrapped server starts from: the declared configuration. */
export function registryFromConfig(config: PortsideConfig, paths: RegistryPaths = EC2_PATHS): Registry {
  return {
    version: 1,
    domain: config.domain,
    email: config.email,
    routing: config.routing,
    tls: 'acme',
    services: config.services,
    paths,
  };
}
