import { existsSync, readFileSync } from 'node:fs';
import { caddyHealth } from './caddy';
import { PATHS } from './constants';
import { assertHostCanRunStandIn } from './host-requirements';
import { LocalServer } from './local-server';
import { loginHealth } from './login-check';
import { netnsHealth, PartHealth } from './netns';
import { proxyHealth } from './registry-proxy';
import { sshdHealth } from './sshd';

export interface LocalStatus {
  /** Every part is healthy. */
  readonly up: boolean;
  /** The server's facts, when `local up` has written them (even if a part is down now). */
  readonly server?: LocalServer;
  readonly parts: { readonly netns: PartHealth; readonly sshd: PartHealth; readonly login: PartHealth; readonly caddy: PartHealth; readonly proxy: PartHealth };
}

/** Check each part of the stand-in (read-only: repairs are `localUp`'s job). */
export async function localStatus(): Promise<LocalStatus> {
  assertHostCanRunStandIn();
  const netns = netnsHealth();
  const [sshd, caddy, proxy] = netns.ok
    ? await Promise.all([sshdHealth(), caddyHealth(), proxyHealth()])
    : [{ ok: false, detail: 'no namespace' }, { ok: false, detail: 'no namespace' }, await proxyHealth()];
  const server = existsSync(PATHS.serverJson) ? (JSON.parse(readFileSync(PATHS.serverJson, 'utf8')) as LocalServer) : undefined;
  // sshd answering is not a deploy getting in: log in with the client key, as a deploy does.
  const login = !server ? { ok: false, detail: 'not checked: local up has not recorded the server' }
    : !sshd.ok ? { ok: false, detail: 'not checked: sshd is down' } : await loginHealth(server);
  const parts = { netns, sshd, login, caddy, proxy };
  return { up: Boolean(server) && Object.values(parts).every((p) => p.ok), ...(server ? { server } : {}), parts };
}
