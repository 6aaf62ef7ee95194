import { Command } from './command';
import { caddyfileCommand } from './commands/caddyfile';
import { portsCommand } from './commands/ports';
import { localCommand } from './commands/local';

/** Every `portside` command, in the order `--help` lists them. Add a command here and nowhere else. */
export const COMMANDS: readonly Command[] = [
  portsCommand,
  caddyfileCommand,
  localCommand,
];
