import { parseArgs } from 'node:util';
import { renderCaddyfile } from '../../caddy';
import { contextFromCdkJson, loadConfig, parseContextFlags } from '../../config';
import { registryFromConfig } from '../../registry/from-config';
import { Command } from '../command';

export const caddyfileCommand: Command = {
  name: 'caddyfile',
  summary: 'print the Caddyfile the stack would install, for the current context',
  usage: `Usage: portside caddyfile [-c key=value ...]

Prints the Caddyfile rendered from cdk.json's context and any -c overrides (the same ones cdk takes).

Examples:
  npx portside caddyfile
  npx portside caddyfile -c domain=example.click -c routing=path
  npx portside caddyfile -c services=simon:3000,startup:4000 | caddy validate --adapter caddyfile --config /dev/stdin`,
  async run(ctx) {
    const { values } = parseArgs({
      args: [...ctx.argv], options: { context: { type: 'string', short: 'c', multiple: true } },
    });
    const config = loadConfig(contextFromCdkJson(ctx.cwd, parseContextFlags(values.context ?? [])));
    for (const w of config.warnings) ctx.err(`warning: ${w}`);
    ctx.out(renderCaddyfile(registryFromConfig(config)).trimEnd());
    return 0;
  },
};
