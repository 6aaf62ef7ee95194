import { parseArgs } from 'node:util';
import { describeExposure, explainPort, parsePort, portTable } from '../../ports';
import { UsageError } from '../../errors';
import { Command } from '../command';
import { CONTEXT_OPTION, CONTEXT_USAGE, readConfig } from '../context-option';

export const portsCommand: Command = {
  usage: `Usage: portside ports [PORT] [-c key=value ...]

Without PORT, prints every port the server uses: port, exposure, holder.
With PORT, explains it: its IANA range, its well-known protocol, who holds it here.

Options:
${CONTEXT_USAGE}

Examples:
  npx portside ports
  npx portside ports 443
  npx portside ports 3000 -c services=simon:3000`,
  async run(ctx) {
    const { positionals, values } = parseArgs({ args: [...ctx.argv], allowPositionals: true, options: { ...CONTEXT_OPTION } });
    if (positionals.length > 1) throw new UsageError(`ports takes at most one port, got ${positionals.length}: ${positionals.join(' ')}`, 'e.g. portside ports 443');
    const port = positionals.length === 1 ? parsePort(positionals[0]) : undefined;
    if (positionals.length === 1 && (port === undefined || port > 65535)) {
      throw new UsageError(`"${positionals[0]}" is not a TCP port: give a whole number from 0 to 65535, e.g. portside ports 443`);
    }
    const config = readConfig(ctx.cwd, values.context);
    if (port !== undefined) {
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
