/**
 * Where an adopted server keeps Portside's Caddyfile (and its static site's releases): a folder Caddy's
 * own user can read and the deploy user can write. After adoption /etc/caddy/Caddyfile imports that
 * Caddyfile, and Caddy started by caddy.service (a restart, a reboot) reads the import as its user
 * (`caddy`), to whom Ubuntu's 0750 home is closed; a live reload hides this (`caddy reload` adapts as
 * the deploy user). The facts are read over SSH (READ_SCRIPT); the choice is pure (portsideRootOf).
 */
import type { Problem } from './plan-types';
import { Unread, unread } from './facts';

/** Caddy's default site root (the Debian/Ubuntu package makes it; the course chowns it to `ubuntu`). */
export const CADDY_DEFAULT_ROOT = '/usr/share/caddy';
/** The folder adopt makes inside the chosen root: the static site's releases, and caddy/Caddyfile. */
export const ADOPTED_WWW = '.portside-www';

/** One folder on the way to a candidate, as `stat` reports it. */
export interface FolderStat {
  readonly path: string;
  /** Permission bits (`stat -c %a`, parsed from octal). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** A folder that could hold Portside's files, as the server shows it. */
export interface CandidateFolder {
  readonly path: string;
  readonly exists: boolean;
  /** The deploy user may make entries in it (`test -w` and `test -x`, run as that user). */
  readonly writable: boolean;
  /** Each folder from / down to it, links resolved (as Caddy's open() resolves them). */
  readonly chain: readonly FolderStat[];
}

/** The user Caddy runs as after a restart: caddy.service's User=, else the running Caddy's. */
export interface CaddyUser {
  readonly name: string;
  readonly uid: number;
  /** Its primary and supplementary groups. */
  readonly gids: readonly number[];
  /** Where it was read, for the plan: "caddy.service's User=caddy", "the running Caddy (pid 15)". */
  readonly how: string;
}

/** What the choice of Portside's folder is made from. */
export interface PortsideRootFacts {
  readonly caddyUser: CaddyUser | null;
  readonly folders: readonly CandidateFolder[];
}

/**
 * Reads Caddy's user and, for each folder given as an argument, whether it exists, whether this
 * user can write it, and the mode and owner of every folder on its resolved path. `$1` is the
 * running Caddy's pid (may be empty); the folders follow. Fixed text: the folders arrive as argv.
 */
export const READ_SCRIPT = `set -f
pid=$1; shift
u=$(systemctl show -p User --value caddy 2>/dev/null | head -n 1)
if [ -n "$u" ] && id -u -- "$u" >/dev/null 2>&1; then
  echo "caddy.how=caddy.service's User=$u"
  echo "caddy.name=$u"
  echo "caddy.uid=$(id -u -- "$u")"
  echo "caddy.gids=$(id -G -- "$u")"
elif [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
  s=/proc/$pid/status
  uid=$(awk '$1 == "Uid:" { print $3 }' "$s")
  echo "caddy.how=the running Caddy (pid $pid)"
  echo "caddy.name=$(id -nu -- "$uid" 2>/dev/null || echo "$uid")"
  echo "caddy.uid=$uid"
  echo "caddy.gids=$(awk '$1 == "Gid:" { print $3 }' "$s") $(awk '$1 == "Groups:" { $1 = ""; print }' "$s")"
fi
for d in "$@"; do
  printf 'folder=%s\\n' "$d"
  [ -d "$d" ] || continue
  echo exists=1
  if [ -w "$d" ] && [ -x "$d" ]; then echo writable=1; else echo writable=0; fi
  r=$(readlink -f -- "$d")
  stat -c 'chain=%a %u %g %n' -- /
  p=
  IFS=/
  for c in \${r#/}; do p="$p/$c"; stat -c 'chain=%a %u %g %n' -- "$p"; done
  unset IFS
done
exit 0
`;

/** Parse READ_SCRIPT's output (pure). */
export function parseRootFacts(text: string): PortsideRootFacts {
  const caddy = new Map<string, string>();
  const folders: Array<{ path: string; exists: boolean; writable: boolean; chain: FolderStat[] }> = [];
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const [key, value] = [line.slice(0, eq), line.slice(eq + 1)];
    const last = folders[folders.length - 1];
    if (key.startsWith('caddy.')) caddy.set(key.slice('caddy.'.length), value);
    else if (key === 'folder') folders.push({ path: value, exists: false, writable: false, chain: [] });
    else if (last && key === 'exists') last.exists = value === '1';
    else if (last && key === 'writable') last.writable = value === '1';
    else if (last && key === 'chain') {
      const [mode, uid, gid, ...path] = value.split(' ');
      last.chain.push({ path: path.join(' '), mode: parseInt(mode, 8), uid: Number(uid), gid: Number(gid) });
    }
  }
  const uid = Number(caddy.get('uid'));
  const caddyUser = caddy.has('uid') && Number.isInteger(uid) ? {
    name: caddy.get('name') || String(uid), uid, how: caddy.get('how') ?? '',
    gids: (caddy.get('gids') ?? '').split(/\s+/).filter(Boolean).map(Number),
  } : null;
  return { caddyUser, folders };
}

/** Whether `user` may pass through `dir` (its x bit, for the class POSIX picks: owner, else group, else other). */
export function mayTraverse(dir: FolderStat, user: Pick<CaddyUser, 'uid' | 'gids'>): boolean {
  if (user.uid === 0) return true;
  const bits = dir.uid === user.uid ? dir.mode >> 6 : user.gids.includes(dir.gid) ? dir.mode >> 3 : dir.mode;
  return (bits & 1) === 1;
}

/** The choice: Portside's root folder, or why there is none (a plan problem, with its fix). */
export type RootChoice = { readonly root: string } | { readonly root: null; readonly problem: Problem };

/**
 * The folder adopt puts `.portside-www` (the static site's releases and Portside's Caddyfile) in
 * (pure): the static site's root when the server has one (its files are hard-linked into the first
 * release, so it must be the same file system), else Caddy's default root. It must exist, the deploy
 * user must be able to write it, and Caddy's user to pass through every folder down to it.
 * Mode bits only: an ACL that lets Caddy in is not seen (the fix names chmod, which is).
 * @param caddyfile the file Caddy starts from, which will import Portside's @default '/etc/caddy/Caddyfile'
 */
export function portsideRootOf(staticRoot: string | null, facts: PortsideRootFacts | Unread, deployUser: string, caddyfile = '/etc/caddy/Caddyfile'): RootChoice {
  const path = (staticRoot ?? CADDY_DEFAULT_ROOT).replace(/(.)\/+$/, '$1');
  const what = staticRoot ? `${path}, the static site's root,` : `${path}, Caddy's default root (this server has no static site),`;
  const file = `${path}/${ADOPTED_WWW}/caddy/Caddyfile`;
  const refuse = (message: string, fix: string): RootChoice => ({ root: null, problem: { kind: 'caddy-cannot-read', message, fix } });
  if (unread(facts)) return refuse(`could not check that Caddy's user can read ${what.replace(/,$/, '')}: ${facts.error}`, 'run adopt again; if this repeats, check that stat, readlink and awk work in an SSH session');
  const user = facts.caddyUser;
  const folder = facts.folders.find((f) => f.path === path);
  if (!folder?.exists || !path.startsWith('/')) {
    return refuse(`${what} is not a folder on the server: Portside keeps its Caddyfile there, where Caddy's user can read it`, staticRoot
      ? `serve the static site from a folder that exists, by its full path (root * ${CADDY_DEFAULT_ROOT}), reload Caddy, then run adopt again`
      : `create it and give it to ${deployUser} (sudo mkdir -p ${CADDY_DEFAULT_ROOT} && sudo chown ${deployUser} ${CADDY_DEFAULT_ROOT}), then run adopt again`);
  }
  const who = user ? `Caddy (user ${user.name}, from ${user.how})` : 'Caddy';
  const blocked = user ? folder.chain.find((d) => !mayTraverse(d, user)) : undefined;
  if (!user || blocked) {
    const why = blocked ? `: ${blocked.path} is mode ${blocked.mode.toString(8)}, owner uid ${blocked.uid}, group ${blocked.gid}, and lets ${user!.name} neither in as owner, group nor other` : ': its user could not be read';
    return refuse(`${who} could not read ${file}, which ${caddyfile} would import at Caddy's next start (a restart or a reboot)${why}`,
      blocked ? `let it through (sudo chmod o+x ${blocked.path})${staticRoot ? ', or serve the site from /usr/share/caddy' : ''}, then run adopt again` : 'check that Caddy runs (sudo systemctl status caddy), then run adopt again');
  }
  if (!folder.writable) {
    const own = folder.chain[folder.chain.length - 1];
    return refuse(`${deployUser} cannot create folders in ${what} mode ${own?.mode.toString(8)}, owner uid ${own?.uid}: Portside keeps its Caddyfile there, where ${who} can read it`,
      `give the folder to ${deployUser}, as the course does for /usr/share/caddy (sudo chown ${deployUser} ${path}), then run adopt again`);
  }
  return { root: path };
}
