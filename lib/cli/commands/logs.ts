import { parseArgs } from 'node:util';
import { checkServiceName } from '../../deploy/service-name';
import { UsageError, UserError } from '../../errors';
import { Command } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';
import { chunksAsLines } from '../output';

export const logsCommand: Command = {
  usage: `Usage: portside logs <name> [-n N] [-f] [options]

Prints the service's recent log lines (what it wrote to stdout and stderr) on stdout.

Options:
  -n N        how many lines (default 50)
  -f          keep following until Ctrl-C
${TARGET_USAGE}

Examples:
  npx portside logs simon -n 100 --target local
  npx portside logs simon -f`,
  async run(ctx) {
    const { positionals, values } = parseArgs({
      args: [...ctx.argv], allowPositionals: true,
      options: { ...TARGET_OPTIONS, lines: { type: 'string', short: 'n' }, follow: { type: 'boolean', short: 'f' } },
    });
    if (positionals.length !== 1) throw new UsageError('logs takes one service name, e.g. portside logs simon');
    const name = checkServiceName(positionals[0]);
    const lines = values.lines ?? '50';
    if (!/^[0-9]{1,6}$/.test(lines)) throw new UsageError(`-n ${JSON.stringify(lines)} must be a whole number of lines, e.g. -n 100`);
    return withServer(ctx, values, async ({ ssh }) => {
      const exists = await ssh.exec(['pm2', 'describe', name]);
      if (exists.code !== 0) throw new UserError(`no process "${name}" under pm2 on this server`, 'See portside services for what runs there.');
      const argv = ['pm2', 'logs', name, '--lines', lines, '--raw', ...(values.follow ? [] : ['--nostream'])];
      // The service's stdout and stderr are both its log: both are this command's output, line by line.
      const fromStdout = chunksAsLines(ctx.out);
      const fromStderr = chunksAsLines(ctx.out);
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      try {
        const r = await ssh.exec(argv, { signal: abort.signal, onStdout: fromStdout.write, onStderr: fromStderr.write })
          .catch((e) => (abort.signal.aborted ? { code: 0 } : Promise.reject(e)));
        return r.code === 0 ? 0 : 1;
      } finally {
        fromStdout.end();
        fromStderr.end();
        process.removeListener('SIGINT', stop);
      }
    });
  },
};
