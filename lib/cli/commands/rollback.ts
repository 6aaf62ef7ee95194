import { parseArgs } from 'node:util';
import { rollbackService } from '../../deploy/manage-service';
import { Command, UserError } from '../command';
import { TARGET_OPTIONS, TARGET_USAGE, withServer } from '../connect';

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'go back to the previous release, without uploading anything',
  usage: `Usage: portside rollback <name> [options]

Starts the previous release (still on the server) on a spare port, health-checks it, then hands the
service's port over to it. If it is not healthy, the current release keeps serving.

${TARGET_USAGE}

Examples:
  npx portside rollback simon --target local`,
  async run(ctx) {
    const { positionals, values } = parseArgs({ args: [...ctx.argv], allowPositionals: true, options: { ...TARGET_OPTIONS } });
    if (positionals.length !== 1) throw new UserError('rollback takes one service name, e.g. portside rollback simon');
    const r = await withServer(ctx, values, ({ ssh }) => rollbackService(ssh, positionals[0], ctx.err));
    ctx.out(`rolled ${positionals[0]} back from ${r.previous} to ${r.release} on port ${r.port}`);
    return 0;
  },
};
