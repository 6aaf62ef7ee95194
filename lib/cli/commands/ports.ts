import { parseArgs } from 'node:util';
import { contextFromCdkJson, loadConfig, parseContextFlags } from '../../config';
import { describeExposure, explainPort, parsePort, portTable } from '../../ports';
import { Command, UserError } from '../command';

export const portsCommand: Command = {
  name: 'ports',
  summary: 'explain a port, or print the server\'s port table',
  usage: `Usage: portside ports [PORT] [-c key=value ...]

Without PORT, prints every port the server uses: port, exposure, holder.
With PORT, explains it: its IANA range, its well-known protocol, who holds it here.

Examples:
  npx portside ports
  npx portside ports 443
  npx portside ports 3000 -c services=simon:3000`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true,
      options: { context: { type: 'string', short: 'c', multiple: true } },
    });
    const config = loadConfig(contextFromCdkJson(ctx.cwd, parseContextFlags(values.context ?? [])));
    if (positionals.length > 1) throw new UserError(`ports takes at most one port, got ${positionals.length}: ${positionals.join(' ')}`);
    if (positionals.length === 1) {
      const port = parsePort(positionals[0]);
      if (port === undefined || port > 65535) {
        throw new UserError(`"${positionals[0]}" is not a TCP port: give a whole number from 0 to 65535, e.g. portside ports 443`);
      }
      ctx.out(explainPort(port, config.services));
      return 0;
    }
    const rows = portTable(config.services);
    ctx.out(`${'PORT'.padEnd(6)} ${'EXPOSURE'.padEnd(9)} HOLDER`);
    for (const r of rows) ctx.out(`${String(r.port).padEnd(6)} ${r.exposure.padEnd(9)} ${r.holder}${r.protocol ? ` (${r.protocol})` : ''}`);
    ctx.out('');
    for (const e of ['world', 'school', 'device'] as const) ctx.out(`${e}: ${describeExposure(e)}${e === 'school' ? ` (${config.schoolCidrs.join(', ')})` : ''}`);
    return 0;
  },
};
