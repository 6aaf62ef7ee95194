import { PortsideConfig } from '../config/portside-config';
import { Registry, RegistryLoadBalancer, RegistryPaths } from './registry';

/** Where an EC2 server keeps the static site and its Caddyfile (the bootstrap lays these out). */
export const EC2_PATHS: RegistryPaths = { www: '/var/www/portside', caddyfile: '/etc/portside/Caddyfile' };

/**
 * The registry a freshly bootstrapped server starts from: the declared configuration; a fleet server's also
 * says how it sits behind its load balancer.
 */
export function registryFromConfig(config: PortsideConfig, paths: RegistryPaths = EC2_PATHS, loadBalancer?: RegistryLoadBalancer): Registry {
  return {
    version: 1,
    domain: config.domain,
    email: config.email,
    routing: config.routing,
    tls: 'acme',
    services: config.services,
    paths,
    ...(loadBalancer ? { loadBalancer } : {}),
  };
}
