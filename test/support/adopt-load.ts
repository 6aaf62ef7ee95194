/**
 * What adopt's e2e suites share beyond the load probe and the timed CLI (test/support/course-load.ts):
 * the probe's counts as one report line, the server's state as adopt and undo promise it (Caddyfile
 * bytes, pm2's processes) and the adopt run's log on the server (lib/adopt/on-server/run-log.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ADOPT_LOG } from '../../lib/adopt/on-server/messages';
import { onServer } from '../../lib/remote/layout';
import type { Tally } from './course-load';
import { CliResult, coursePm2, hostPathOf, ON_SERVER } from './course-server';

/** The probe's counts and the CLI's stamped lines, in the test's output. */
export function report(label: string, tally: Tally, r: CliResult): void {
  process.stderr.write(`[${label}] load probe: ${tally.sent} requests, ${tally.ok} ok, ${tally.failures.length} failed, ${tally.retried.length} sent again after a keep-alive reset ${JSON.stringify(tally.retried)}\n${r.stderr}\n`);
}

export const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

export type CoursePm2Process = { name: string; pid: number; pm2_env: { exec_mode: string; pm_cwd: string; args?: string[] } };
/**
 * pm2's process list, by name. pm2 lists processes in the order they started (pm_id), and an undo after a
 * kill part-way restarts only the services that had been handed over, so the order is not part of what
 * adopt and undo promise to restore (pm2's dump, which `pm2 resurrect` reads, is put back byte for byte).
 */
export const pm2List = (): CoursePm2Process[] =>
  (JSON.parse(coursePm2('jlist').split('\n').reverse().find((l) => l.startsWith('[{') || l === '[]') ?? '[]') as CoursePm2Process[])
    .sort((a, b) => a.name.localeCompare(b.name));

/** The adopt run's log on the server, as the host sees the server's home. */
export const adoptLogPath = (): string => hostPathOf(onServer(ON_SERVER.home, ADOPT_LOG));

/** The log's text once the run that wrote it has ended (its last line is `=== ended: …`); throws after `ms`. */
export async function runEnded(ms = 90_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = existsSync(adoptLogPath()) ? readFileSync(adoptLogPath(), 'utf8') : '';
    if (text.trimEnd().split('\n').pop()?.startsWith('=== ended: ')) return text;
    if (Date.now() > deadline) throw new Error(`the adopt run on the server did not end within ${ms} ms; its log:\n${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
