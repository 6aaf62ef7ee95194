import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { siteUrl } from '../caddy';
import { UserError } from '../cli/command';
import { parseRegistry } from '../registry';
import { SshSession } from '../ssh';
import { callAgent } from './agent-client';
import { newReleaseId, printer, who } from './deploy-service';
import { buildManifest, diffManifest, listFiles, ManifestEntry, sameManifest } from './file-list';
import { tarStream } from './tar-stream';

export interface DeployFilesOutcome {
  readonly url: string;
  readonly release: string | null;
  readonly unchanged: boolean;
  readonly filesSent: number;
}

/** Check the site folder before connecting. */
export function checkSiteFolder(dir: string): string {
  const folder = resolve(dir);
  if (folder === '/') throw new UserError('refusing to publish the root folder "/"', 'Pass the folder of your built site, e.g. portside deploy-files dist');
  if (!existsSync(folder)) throw new UserError(`the site folder ${dir} does not exist`);
  if (!statSync(folder).isDirectory()) throw new UserError(`${dir} is a file, not a folder`);
  if (!existsSync(resolve(folder, 'index.html'))) throw new UserError(`${dir} has no index.html`, 'The root domain serves index.html; build your site first (e.g. npm run build → dist/).');
  return folder;
}

/** Publish a static folder as the root site: a new release folder, then one atomic link switch. */
export async function deployFiles(ssh: SshSession, dir: string, address: string, log: (l: string) => void): Promise<DeployFilesOutcome> {
  const folder = checkSiteFolder(dir);
  const files = await buildManifest(listFiles(folder));
  let url = '';
  let release: string | null = null;
  let sent = 0;
  const result = await callAgent(ssh, {
    command: 'deploy-files',
    header: { who: who(), what: 'deploy-files' },
    onMessage: printer(log, {}),
    onState: async (state) => {
      const registry = parseRegistry(state.registry as string);
      url = siteUrl(registry, address);
      const current = state.current as { id: string | null; files: ManifestEntry[] | null };
      const unchanged = sameManifest(files, current.files);
      const { keep, send } = diffManifest(files, current.files);
      release = unchanged ? current.id : newReleaseId();
      sent = unchanged ? 0 : send.length;
      return {
        plan: { id: release, unchanged, keep, files: files.map(({ p, h, s, m }) => ({ p, h, s, m })), verifyUrl: url },
        upload: send.length && !unchanged ? tarStream(send.map((f) => ({ path: f.p, source: f.source, size: f.s, mode: 0o644 }))) : undefined,
      };
    },
  });
  return { url, release, unchanged: !!result.unchanged, filesSent: sent };
}
