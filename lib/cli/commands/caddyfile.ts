import { parseArgs } from 'node:util';
import { renderCaddyfile } from '../../caddy';
import { registryFromConfig } from '../../registry/from-config';
import { Command } from '../command';
import { CONTEXT_OPTION, CONTEXT_USAGE, readConfig } from '../context-option';

export const caddyfileCommand: Command = {
  usage: `Usage: portside caddyfile [-c key=value ...]

Prints the Caddyfile rendered from cdk.json's context and any -c overrides (the same ones cdk takes).

Options:
${CONTEXT_USAGE}

Examples:
  npx portside caddyfile
  npx portside caddyfile -c domain=example.click -c routing=path
  npx portside caddyfile -c services=simon:3000,startup:4000 | caddy validate --adapter caddyfile --config /dev/stdin`,
  async run(ctx) {
    const { values } = parseArgs({ args: [...ctx.argv], options: { ...CONTEXT_OPTION } });
    const config = readConfig(ctx.cwd, values.context);
    for (const w of config.warnings) ctx.err(`warning: ${w}`);
    ctx.out(renderCaddyfile(registryFromConfig(config)).trimEnd());
    return 0;
  },
};
