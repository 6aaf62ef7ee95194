import { existsSync, readFileSync, rmSync } from 'node:fs';
import { stopKeepers } from '../../ssh/keeper/keep';
import { stopCaddy } from './caddy';
import { fleetExists, takeFleetDown } from './fleet';
import { DEPLOY_USER, NETNS, PATHS, STATE_DIR } from './constants';
import { removeBuildUser } from './build-user';
import { lookupAccount, removeAccount } from './deploy-user';
import { asUserInNetns, run } from './exec';
import { assertHostCanRunStandIn } from './host-requirements';
import { withLock } from './lock';
import { netnsId, removeNetns } from './netns';
import { pidsInNetns, pidsOfUid, strandedPids, terminate } from './processes';
import { stopProxy } from './registry-proxy';
import { sessionPath, stopSshd } from './sshd';

export interface LocalDownOptions {
  /** @default - write to stderr */
  readonly log?: (line: string) => void;
}

/**
 * Take the stand-in down completely: the local fleet first when there is one (its fleet.json lives in the
 * state dir), then the user's pm2 daemon and services, Caddy, sshd, the proxy, the namespace and veth, the
 * deploy user with its home, and the state dir. Idempotent.
 */
export async function localDown(opts: LocalDownOptions = {}): Promise<void> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  assertHostCanRunStandIn();
  await withLock(async () => {
    await stopStandInKeepers(log);
    if (fleetExists()) await takeFleetDown(log);
    const account = lookupAccount();
    const nsExists = netnsId() !== undefined;
    if (account && nsExists && existsSync(`${account.home}/.pm2`)) {
      log(`stopping the pm2 daemon of ${DEPLOY_USER}`);
      run(asUserInNetns(account, sessionPath() ?? process.env.PATH ?? '/usr/bin:/bin', ['pm2', 'kill']), { timeout: 20_000 });
    }
    log('stopping Caddy, sshd and the registry proxy');
    await stopCaddy();
    await stopSshd();
    await stopProxy();
    const leftovers = [
      ...pidsInNetns(),
      ...(account ? pidsOfUid(account.uid) : []),
      ...strandedPids(account?.uid, STATE_DIR, netnsId()),
    ].filter((pid) => pid !== process.pid);
    if (leftovers.length) {
      log(`stopping ${new Set(leftovers).size} remaining process(es) of the stand-in`);
      await terminate([...new Set(leftovers)]);
    }
    if (nsExists) log(`deleting network namespace "${NETNS}" and its veth`);
    removeNetns();
    if (account) log(`removing user "${DEPLOY_USER}" and ${account.home}`);
    removeAccount();
    removeBuildUser();
    if (existsSync(STATE_DIR)) log(`removing ${STATE_DIR}`);
    rmSync(STATE_DIR, { recursive: true, force: true });
    log('local server is down');
  });
}

/** The kept connections to the stand-in (lib/ssh/keeper) in this user's Portside folder: asked to quit before sshd goes. */
async function stopStandInKeepers(log: (line: string) => void): Promise<void> {
  let server: { address: string; sshPort: number };
  try {
    server = JSON.parse(readFileSync(PATHS.serverJson, 'utf8')) as { address: string; sshPort: number };
  } catch {
    return; // no state: nothing was ever kept for it
  }
  const stopped = await stopKeepers(server.address, server.sshPort);
  if (stopped) log(`stopped ${stopped} kept SSH connection(s) to the local server`);
}
