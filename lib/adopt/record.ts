import { createHash } from 'node:crypto';
import { UserError } from '../errors';
import { ADOPT_DIR, BIN_DIR, LOCK_DIR, onServer, PORTSIDE_DIR } from '../remote/layout';
import { parsePm2List } from './pm2-list';
import type { AdoptPlan } from './plan-types';
import type { AdoptServer, ServerCommands } from './server-ops';

/** What adopt records before it changes anything: undo puts the server back from it. */
export const BEFORE_DIR = `${ADOPT_DIR}/before`;
/** Written last by a finished adoption: its release ids (undo compares them with what runs now). */
export const ADOPTED_FILE = `${ADOPT_DIR}/adopted.json`;

export interface BeforeRecord {
  readonly at: string;
  readonly by: string;
  /** The file Caddy was started with; its bytes are `before/Caddyfile`. */
  readonly caddyfile: string;
  readonly caddyfileSha256: string;
  /** Whether ~/.portside was there before adoption (undo removes it when it was not). */
  readonly portsideExisted: boolean;
  /** `pm2 jlist` as it was (the raw list: names, cwd, scripts, args, env). */
  readonly pm2: unknown;
  /** What each adopted service's folder held (top-level names): undo removes only what adopt added. */
  readonly folders: Readonly<Record<string, readonly string[]>>;
  readonly plan: AdoptPlan;
}

export interface AdoptedRecord {
  readonly at: string;
  /** The release each service was adopted as, and the static site's. */
  readonly releases: Readonly<Record<string, string>>;
  readonly staticRelease: string;
}

/** The jlist line of `pm2 jlist`'s output. */
export function jlistOf(stdout: string): unknown[] {
  for (const line of stdout.split('\n').reverse()) {
    try {
      const list: unknown = JSON.parse(line);
      if (Array.isArray(list)) return list;
    } catch {
      /* a notice line ("[PM2] …") */
    }
  }
  return [];
}

/**
 * Record the server before changing it, and refuse when it is no longer what the plan was made from
 * (the Caddyfile's bytes, pm2's names and pids) or when an adoption is already recorded. The record is
 * written beside its final place and renamed there: it exists whole or not at all.
 */
export async function recordBefore(ops: AdoptServer, plan: AdoptPlan, by: string): Promise<BeforeRecord> {
  const home = plan.server.home;
  const before = onServer(home, BEFORE_DIR);
  await refuseIfRecorded(ops, home);
  const list = jlistOf(await ops.pm2('jlist'));
  const now = parsePm2List(JSON.stringify(list)).map((p) => ({ name: p.name, pid: p.pid }));
  if (JSON.stringify(now) !== JSON.stringify(plan.basis.pm2)) {
    throw new UserError(`pm2's processes changed since the plan was read (plan: ${JSON.stringify(plan.basis.pm2)}, now: ${JSON.stringify(now)}); nothing was changed`, 'Run the same command again: it reads the server afresh.');
  }
  const portsideExisted = await portsideHasOwnFiles(ops, home);
  const folders: Record<string, string[]> = {};
  for (const s of plan.services) if (s.folder) folders[s.name] = (await ops.sh('ls -A -- "$1"', [s.folder])).split('\n').filter(Boolean);
  const record: BeforeRecord = {
    at: new Date().toISOString(), by, caddyfile: plan.basis.caddyfile, caddyfileSha256: plan.basis.caddyfileSha256, portsideExisted, pm2: list, folders, plan,
  };
  const tmp = `${before}.tmp`;
  await ops.sh('set -e; rm -rf "$1"; mkdir -p "$1"; cp -p -- "$2" "$1/Caddyfile"; if [ -f "$3" ]; then cp -p -- "$3" "$1/dump.pm2"; fi; cat > "$1/record.json"',
    [tmp, plan.basis.caddyfile, onServer(home, '.pm2/dump.pm2')], JSON.stringify(record, null, 2) + '\n');
  const copied = await ops.sh('cat -- "$1/Caddyfile"', [tmp]);
  const sha = createHash('sha256').update(copied).digest('hex');
  if (sha !== plan.basis.caddyfileSha256) {
    await ops.sh('rm -rf "$1"', [tmp]);
    throw new UserError(`${plan.basis.caddyfile} changed since the plan was read (sha256 ${sha.slice(0, 12)}…, plan ${plan.basis.caddyfileSha256.slice(0, 12)}…); nothing was changed`, 'Run the same command again: it reads the server afresh.');
  }
  await ops.sh('mv -T -- "$1" "$2"', [tmp, before]);
  return record;
}

/**
 * What the adopt run itself makes in ~/.portside before it records anything: the bundle it runs from
 * (sent by the CLI) and the deploy lock it holds. A ~/.portside holding only these was not there before.
 */
export const LAUNCH_ENTRIES: readonly string[] = [BIN_DIR, LOCK_DIR].map((p) => p.slice(PORTSIDE_DIR.length + 1));

/** Whether ~/.portside holds anything besides what the adopt run's own launch made (LAUNCH_ENTRIES). */
export async function portsideHasOwnFiles(ops: AdoptServer, home: string): Promise<boolean> {
  const r = await ops.cmd.exec(['ls', '-A', '--', onServer(home, PORTSIDE_DIR)]);
  return r.code === 0 && r.stdout.split('\n').some((n) => n && !LAUNCH_ENTRIES.includes(n));
}

/** Refuse when an adoption is recorded already: finished (undo first) or stopped part-way (undo puts it back). */
export async function refuseIfRecorded(ops: AdoptServer, home: string): Promise<void> {
  if ((await ops.cmd.exec(['test', '-e', onServer(home, BEFORE_DIR)])).code !== 0) return;
  const finished = (await ops.cmd.exec(['test', '-e', onServer(home, ADOPTED_FILE)])).code === 0;
  throw new UserError(finished ? `this server is already adopted: ~/${BEFORE_DIR} holds what it was before; nothing was changed`
    : `an earlier adoption of this server stopped part-way (~/${BEFORE_DIR} is recorded, ~/${ADOPTED_FILE} is not); nothing was changed`,
  finished ? 'Deploy to it as it is, or undo it first (portside adopt --undo, same connection flags).' : 'Put it back first (portside adopt --undo, same connection flags), then adopt again.');
}

/** Whether an adoption is recorded on the server (finished or not). */
export async function recordedOn(cmd: ServerCommands, home: string): Promise<boolean> {
  return (await cmd.exec(['test', '-e', onServer(home, BEFORE_DIR)])).code === 0;
}

/** The record of a server's state before adoption, or null when none is recorded. */
export async function readBefore(cmd: ServerCommands, home: string): Promise<BeforeRecord | null> {
  const r = await cmd.exec(['cat', '--', `${onServer(home, BEFORE_DIR)}/record.json`]);
  return r.code === 0 ? (JSON.parse(r.stdout) as BeforeRecord) : null;
}

