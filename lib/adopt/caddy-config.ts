/**
 * Caddy's JSON configuration (what `caddy adapt` prints and the admin API serves) read as sites:
 * which names and paths reach which upstream port or static root. Pure. Only the shapes the
 * Caddyfile adapter produces are read; anything else is left to the verbatim blocks.
 */

export interface Upstream {
  /** As written: `localhost:3000`, `127.0.0.1:4000`, `{env.BACKEND}`. */
  readonly dial: string;
  /** The port, when the dial address names one. */
  readonly port: number | null;
  /** The path matcher it sits under (`/simon/*` for `handle_path /simon/*`), or null for the whole site. */
  readonly path: string | null;
}

/** One site block as Caddy runs it. */
export interface CaddySite {
  /** The HTTP server it is in (`srv0`…) and that server's listen addresses. */
  readonly server: string;
  readonly listen: readonly string[];
  /** Host names it answers for; empty for a site on an address only (`:80`). */
  readonly hosts: readonly string[];
  readonly upstreams: readonly Upstream[];
  /** The `root` directive's folder, when the site serves files. */
  readonly root: string | null;
  readonly fileServer: boolean;
  /**
   * Set when an earlier block already defines the same address (Caddy merges them into one route,
   * in order, and the first block's handler answers every request): that block's position, 0-based.
   */
  readonly shadowedBy: number | null;
  /** Its position among the blocks that share its address (0 for the first). */
  readonly order: number;
}

type Json = Record<string, unknown>;
const arr = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : []);

/** The sites of an adapted configuration, in the order Caddy matches them. */
export function sitesOf(config: unknown): CaddySite[] {
  const servers = ((((config as Json)?.apps as Json)?.http as Json)?.servers ?? {}) as Record<string, Json>;
  const out: CaddySite[] = [];
  for (const [server, s] of Object.entries(servers)) {
    const listen = arr(s.listen).map(String);
    const routes = arr(s.routes);
    for (const route of routes.filter((r) => hostsOf(r).length > 0)) {
      // One subroute per site block sharing these matchers; a route that is not a subroute is one block.
      const handle = arr(route.handle);
      const blocks = handle.every((h) => h.handler === 'subroute') ? handle : [{ handler: 'subroute', routes: [{ handle }] }];
      blocks.forEach((block, order) => {
        out.push({ server, listen, hosts: hostsOf(route), ...collect(arr(block.routes), null), order, shadowedBy: order > 0 ? 0 : null });
      });
    }
    // A site without a host (`:80 { … }`) is not wrapped: its directives are the server's own routes.
    const hostless = routes.filter((r) => hostsOf(r).length === 0);
    if (hostless.length) out.push({ server, listen, hosts: [], ...collect(hostless, null), order: 0, shadowedBy: null });
  }
  return out;
}

function hostsOf(route: Json): string[] {
  return [...new Set(arr(route.match).flatMap((m) => arr(m.host).map(String)))];
}

function collect(routes: Json[], path: string | null): { upstreams: Upstream[]; root: string | null; fileServer: boolean } {
  const upstreams: Upstream[] = [];
  let root: string | null = null;
  let fileServer = false;
  for (const route of routes) {
    const here = arr(route.match).flatMap((m) => arr(m.path).map(String))[0] ?? path;
    for (const h of arr(route.handle)) {
      if (h.handler === 'subroute') {
        const inner = collect(arr(h.routes), here);
        upstreams.push(...inner.upstreams);
        root = root ?? inner.root;
        fileServer = fileServer || inner.fileServer;
      } else if (h.handler === 'reverse_proxy') {
        for (const u of arr(h.upstreams)) upstreams.push({ dial: String(u.dial), port: portOf(String(u.dial)), path: here });
      } else if (h.handler === 'vars' && typeof h.root === 'string') {
        root = h.root;
      } else if (h.handler === 'file_server') {
        fileServer = true;
        if (typeof h.root === 'string') root = h.root;
      }
    }
  }
  return { upstreams, root, fileServer };
}

/** The port of a dial address (`localhost:3000`, `[::1]:3000`, `127.0.0.1:4000`), or null for a placeholder. */
export function portOf(dial: string): number | null {
  const m = /:(\d{1,5})$/.exec(dial.replace(/^[a-z]+:\/\//, ''));
  return m ? Number(m[1]) : null;
}
