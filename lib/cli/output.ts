import { StringDecoder } from 'node:string_decoder';
import { CommandContext } from './command';

/**
 * The one way a command prints --json: exactly one document on stdout, indented by two spaces (read
 * by people in a terminal as often as by jq), and nothing else on stdout. Progress stays on stderr.
 */
export function printJson(ctx: Pick<CommandContext, 'out'>, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}

/**
 * Chunks of text (a remote command's output) as whole lines through `out`: a line split across two
 * chunks is printed once, whole (and so is a character split across two chunks). `end` prints what is
 * left after the last newline.
 */
export function chunksAsLines(out: (line: string) => void): { write: (chunk: Buffer | string) => void; end: () => void } {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  return {
    write: (chunk) => {
      pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) out(line);
    },
    end: () => {
      pending += decoder.end();
      if (pending) out(pending);
      pending = '';
    },
  };
}
