import { Command } from './command';
import { caddyfileCommand } from './commands/caddyfile';
import { deployFilesCommand } from './commands/deploy-files';
import { demoCommand } from './commands/demo';
import { doctorCommand } from './commands/doctor';
import { deployServiceCommand } from './commands/deploy-service';
import { localCommand } from './commands/local';
import { logsCommand } from './commands/logs';
import { portsCommand } from './commands/ports';
import { removeServiceCommand } from './commands/remove-service';
import { rollbackCommand } from './commands/rollback';
import { servicesCommand } from './commands/services';
import { syncConfigCommand } from './commands/sync-config';

/** Every `portside` command, in the order `--help` lists them. Add a command here and nowhere else. */
export const COMMANDS: readonly Command[] = [
  deployServiceCommand,
  deployFilesCommand,
  servicesCommand,
  rollbackCommand,
  removeServiceCommand,
  syncConfigCommand,
  logsCommand,
  localCommand,
  demoCommand,
  portsCommand,
  caddyfileCommand,
  doctorCommand,
];
