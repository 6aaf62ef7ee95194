import { parseArgs } from 'node:util';
import { renderCaddyfile } from '../../caddy';
import type { PortsideConfig } from '../../config/portside-config';
import type { RegistryLoadBalancer } from '../../registry';
import { registryFromConfig } from '../../registry/from-config';
import { Command } from '../command';
import { CONTEXT_OPTION, CONTEXT_USAGE, readConfig } from '../context-option';

export const caddyfileCommand: Command = {
  usage: `Usage: portside caddyfile [-c key=value ...]

Prints the Caddyfile rendered from cdk.json's context and any -c overrides (the same ones cdk takes).
With servers=2 or more it is a fleet server's Caddyfile, the one the stack seeds on each server: plain
HTTP on port 80 (the load balancer terminates TLS), forwarded headers trusted only from the VPC, and the
load balancer's health check at /_portside/health.

Options:
${CONTEXT_USAGE}

Examples:
  npx portside caddyfile
  npx portside caddyfile -c domain=example.click -c routing=path
  npx portside caddyfile -c servers=3 -c domain=example.click -c hostedZoneId=Z0123456789ABCDEFGHIJ
  npx portside caddyfile -c services=simon:3000,startup:4000 | caddy validate --adapter caddyfile --config /dev/stdin`,
  async run(ctx) {
    const { values } = parseArgs({ args: [...ctx.argv], options: { ...CONTEXT_OPTION } });
    const config = readConfig(ctx.cwd, values.context);
    for (const w of config.warnings) ctx.err(`warning: ${w}`);
    const loadBalancer = fleetLoadBalancer(config);
    if (loadBalancer) ctx.err(`a fleet server's Caddyfile (servers=${config.servers}): plain HTTP behind the load balancer, which holds the certificate`);
    ctx.out(renderCaddyfile(registryFromConfig(config, undefined, loadBalancer)).trimEnd());
    return 0;
  },
};

/**
 * What a fleet server's seed registry says about its load balancer (lib/stack/fleet/fleet.ts seeds
 * `{ trustedProxies: [VPC_CIDR] }`), or undefined for the single server. The stack module is loaded only
 * for a fleet, so that the CIDR is read from the one place it is written.
 */
function fleetLoadBalancer(config: PortsideConfig): RegistryLoadBalancer | undefined {
  if (config.servers < 2) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { VPC_CIDR } = require('../../stack/portside-stack') as typeof import('../../stack/portside-stack');
  return { trustedProxies: [VPC_CIDR] };
}
