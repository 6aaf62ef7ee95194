import { existsSync, readFileSync, statSync } from 'node:fs';
import { UserError } from '../errors';
import { envKeyProblems, envLineProblems } from './env-rules';

/**
 * Read and check an env file for upload. Values are data: they are never printed, never put on a
 * command line, and the server loads them without a shell. Only the line numbers of problems are
 * reported, never the content.
 */
export function readEnvFile(path: string): string {
  if (!existsSync(path)) throw new UserError(`--service-env ${path} does not exist`);
  const st = statSync(path);
  if (!st.isFile()) throw new UserError(`--service-env ${path} is not a file`);
  if (st.size > 64 * 1024) throw new UserError(`--service-env ${path} is ${st.size} bytes; an env file may be at most 64 KiB`);
  const text = readFileSync(path, 'utf8');
  if (text.includes('\0')) throw new UserError(`--service-env ${path} contains a NUL byte; it must be a text file of KEY=value lines`);
  const bad = envLineProblems(text);
  if (bad.length) {
    throw new UserError(`--service-env ${path}: line${bad.length > 1 ? 's' : ''} ${bad.join(', ')} ${bad.length > 1 ? 'are' : 'is'} not KEY=value`,
      'Each line is NAME=value (NAME: letters, digits, _; not starting with a digit); # starts a comment. Values are taken literally: nothing is expanded.');
  }
  // Names the service could never see are refused, not silently dropped on the server.
  const keyProblems = envKeyProblems(text);
  if (keyProblems.length) throw new UserError(`${path}: ${keyProblems[0]}`, keyProblems.length > 1 ? keyProblems.slice(1).join('\n') : undefined);
  return text;
}
