import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { utils } from 'ssh2';

/**
 * Read a private key file and check that ssh2 can use it, with errors that name the file (never its
 * content). `flag` names where the path came from, e.g. "--key".
 */
export async function readPrivateKeyFile(path: string, flag: string, log?: (line: string) => void): Promise<Buffer> {
  const file = path.startsWith('~/') ? homedir() + path.slice(1) : path;
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT'
      ? `${flag}: key file ${file} does not exist; give the path of the server's private key (e.g. ~/.ssh/portside.pem)`
      : `${flag}: cannot read key file ${file} (${code})`);
  }
  if (!stat.isFile()) throw new Error(`${flag}: ${file} is not a file; give the path of the server's private key`);
  if ((stat.mode & 0o077) !== 0) {
    log?.(`warning: key file ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}); ` +
      `run \`chmod 600 ${file}\` (OpenSSH refuses keys like this)`);
  }
  const key = await fs.readFile(file);
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) {
    throw new Error(`${flag}: ${file} is not a usable private key (${parsed.message}); ` +
      'give an unencrypted OpenSSH or PEM private key');
  }
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first || !first.isPrivateKey()) throw new Error(`${flag}: ${file} holds a public key; give the private key (the file without .pub)`);
  return key;
}
