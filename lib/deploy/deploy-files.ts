import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { siteUrl } from '../caddy';
import { UserError } from '../errors';
import { parseRegistry } from '../registry';
import { SshSession } from '../ssh';
import { callAgent } from './agent-client';
import { formatBytes, newReleaseId, printer, who } from './deploy-service';
import { buildManifest, diffManifest, listFiles, ManifestEntry, sameManifest } from './file-list';
import { tarStream } from './tar-stream';
import { verifyUrlOnServer } from './verify-url';

/** What deploy-files did (or, with `dryRun`, would do) and where the site answers. */
export interface DeployFilesOutcome {
  readonly url: string;
  /** The live release after it (with `dryRun`: the one it would make live). */
  readonly release: string | null;
  readonly unchanged: boolean;
  readonly filesSent: number;
  /** The files the site has, and of those, how many bytes are (would be) sent. */
  readonly files: number;
  readonly bytesSent: number;
  readonly dryRun: boolean;
  /** The release that was live before, when this made another one live. @default - null */
  readonly previous?: string | null;
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

/**
 * Publish a static folder as the root site: a new release folder, then one atomic link switch.
 * `dryRun` reads the live release's file list (no lock), says what would be sent and changes nothing.
 */
export async function deployFiles(ssh: SshSession, dir: string, address: string, log: (l: string) => void, o: { dryRun?: boolean; releaseId?: string } = {}): Promise<DeployFilesOutcome> {
  const folder = checkSiteFolder(dir);
  const files = await buildManifest(listFiles(folder));
  let planned: DeployFilesOutcome = { url: '', release: null, unchanged: false, filesSent: 0, files: files.length, bytesSent: 0, dryRun: !!o.dryRun };
  const result = await callAgent(ssh, {
    command: 'deploy-files',
    header: { who: who(), what: 'deploy-files', readOnly: !!o.dryRun },
    onMessage: printer(log, {}),
    onState: async (state) => {
      const registry = parseRegistry(state.registry as string);
      const current = state.current as { id: string | null; files: ManifestEntry[] | null };
      const unchanged = sameManifest(files, current.files);
      const { keep, send } = diffManifest(files, current.files);
      const url = siteUrl(registry, address);
      // A fleet gives every server the same release id (o.releaseId).
      const release = (unchanged && current.id) || o.releaseId || newReleaseId();
      const sending = unchanged ? [] : send;
      planned = { ...planned, url, release, unchanged, filesSent: sending.length, bytesSent: sending.reduce((n, f) => n + f.s, 0) };
      if (o.dryRun) {
        log(`plan for deploy-files (dry run: nothing is changed)`);
        log(`  folder: ${folder} (${files.length} files)`);
        log(`  live release: ${current.id ?? 'none'}`);
        log(unchanged ? '  nothing differs from the live site: nothing would be sent or switched'
          : `  release ${release}: ${send.length} files to send (${formatBytes(planned.bytesSent)}), ${keep.length} unchanged; one link switch makes it live`);
        log(`  URL: ${url}`);
        return null;
      }
      return {
        plan: { id: release, unchanged, keep, files: files.map(({ p, h, s, m }) => ({ p, h, s, m })), verifyUrl: verifyUrlOnServer(registry, url) },
        upload: send.length && !unchanged ? tarStream(send.map((f) => ({ path: f.p, source: f.source, size: f.s, mode: 0o644 }))) : undefined,
      };
    },
  });
  return o.dryRun ? planned : { ...planned, unchanged: !!result.unchanged, previous: result.previous ?? null };
}
