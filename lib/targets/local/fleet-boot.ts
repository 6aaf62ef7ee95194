/**
 * A local fleet server's "boot": what an EC2 fleet server does after its bootstrap (assets/bootstrap.sh's
 * converge_at_boot), here for a server `local up --servers N` has just created or re-created. It runs the
 * same converge hook (lib/fleet/portside-converge.sh) as root in the server's network namespace, with the
 * settings EC2 keeps in /etc/default/portside written to a file of its own (PORTSIDE_DEFAULTS), and the
 * local store's endpoint and static credentials in place of the bucket's AWS URL and the instance role.
 *
 * With no manifest in the store the hook only marks the server converged: it runs to the end here, so the
 * server is healthy when `local up` returns. With a manifest it converges the server (downloads, installs,
 * probes every service) in the background, as an instance converges after the Auto Scaling group launched
 * it: `local up` returns while the server answers 503 on /_portside/health and the load balancer sends it
 * nothing, until the hook writes the marker.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONVERGE_HOOK_SCRIPT } from '../../bootstrap/assets';
import { MANIFEST_KEY } from '../../fleet/store-layout';
import { CONVERGED_MARKER_FILE } from '../../remote/layout';
import { shellQuote } from '../../ssh/quote';
import { inNetns, run } from './exec';
import { localStore } from './fleet-description';
import { FLEET_PATHS, FleetServerSpec } from './fleet-constants';
import { storeHeadStatus } from './fleet-store';
import { livePid } from './processes';

/** How long the hook may take when there is nothing to converge to (a few curl calls). */
const EMPTY_BOOT_TIMEOUT_MS = 30_000;

/** Where one server's boot keeps its settings file, pid and log, and its registrar (fleet-register.ts) its pid and log. */
export function bootPaths(spec: FleetServerSpec): { defaults: string; pid: string; log: string; registrarPid: string; registrarLog: string } {
  return {
    defaults: join(spec.dir, 'boot', 'portside.env'), pid: join(spec.dir, 'boot', 'converge.pid'), log: join(FLEET_PATHS.logDir, `${spec.name}-converge.log`),
    registrarPid: join(spec.dir, 'boot', 'register.pid'), registrarLog: join(FLEET_PATHS.logDir, `${spec.name}-register.log`),
  };
}

/**
 * The hook's settings for one server (pure), as bootstrap.sh writes /etc/default/portside on EC2 (`export
 * NAME=value`, quoted), plus the local store's endpoint and throwaway keys (not secret: see STORE_CREDENTIALS).
 */
export function renderBootDefaults(spec: FleetServerSpec): string {
  const store = localStore();
  const settings: ReadonlyArray<readonly [string, string]> = [
    ['PORTSIDE_USER', spec.user], ['PORTSIDE_REGION', store.region], ['PORTSIDE_STORE_BUCKET', store.bucket],
    ['PORTSIDE_CONVERGED_MARKER', join(spec.caddyDir, CONVERGED_MARKER_FILE)], ['PORTSIDE_STORE_ENDPOINT', store.endpoint],
    ['PORTSIDE_STORE_ACCESS_KEY_ID', store.accessKeyId], ['PORTSIDE_STORE_SECRET_ACCESS_KEY', store.secretAccessKey],
  ];
  return settings.map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join('');
}

/** The directories root's boot has on its PATH besides the server's (runuser, install: /usr/sbin, /sbin). */
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The hook as root in the server's namespace, with a clean environment (cloud-init's has none of the CLI's):
 * `path` (where node, npm and pm2 are, as an SSH session gets them) then root's own directories.
 */
export function bootArgv(spec: FleetServerSpec, path: string): string[] {
  return inNetns(['env', '-i', `PATH=${path}:${ROOT_PATH}`, 'LANG=C.UTF-8', 'HOME=/root', `PORTSIDE_DEFAULTS=${bootPaths(spec).defaults}`, 'bash', CONVERGE_HOOK_SCRIPT], spec.netns);
}

/**
 * Boot a server that has just been laid out: run the converge hook, to the end when the store has no
 * manifest, else in the background (its pid in bootPaths().pid). A boot still running is left alone.
 * Resolves to what it did, for `local up`'s log.
 */
export async function bootFleetServer(spec: FleetServerSpec, path: string, log: (line: string) => void): Promise<'converged' | 'converging'> {
  const paths = bootPaths(spec);
  if (livePid(paths.pid)) return 'converging';
  mkdirSync(join(spec.dir, 'boot'), { recursive: true, mode: 0o700 });
  writeFileSync(paths.defaults, renderBootDefaults(spec), { mode: 0o600 });
  const manifest = await storeHeadStatus(MANIFEST_KEY);
  if (manifest !== 200) return runEmptyBoot(spec, path, manifest, log);
  const fd = openSync(paths.log, 'a');
  try {
    const argv = bootArgv(spec, path);
    // Detached: it outlives `local up`, as an instance's boot outlives the scaling activity that launched it.
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    writeFileSync(paths.pid, `${child.pid}\n`);
  } finally {
    closeSync(fd);
  }
  log(`${spec.name}: booting: the store has a manifest; converging to it in the background (lib/fleet/portside-converge.sh, log ${paths.log}); /_portside/health answers 503 and it joins the load balancer only once it answers 200`);
  return 'converging';
}

function runEmptyBoot(spec: FleetServerSpec, path: string, manifest: number | undefined, log: (line: string) => void): 'converged' {
  const paths = bootPaths(spec);
  const r = run(bootArgv(spec, path), { timeout: EMPTY_BOOT_TIMEOUT_MS });
  writeFileSync(paths.log, `${r.stdout}${r.stderr}`, { flag: 'a' });
  if (r.code !== 0) {
    throw new Error(`fleet server ${spec.name}: its boot (lib/fleet/portside-converge.sh) exited with ${r.code} (the store answered ${manifest ?? 'nothing'} for ${MANIFEST_KEY}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}; see ${paths.log}, then run \`portside local up --servers N\` again`);
  }
  log(`${spec.name}: booted: the store has no manifest yet, nothing to converge to (healthy)`);
  return 'converged';
}
