import { CADDYFILE_HISTORY_DIR, Registry } from '../registry/registry';
// One block splitter for both sides: the agent's (bundled into the CLI and the agent alike).
import { CaddyBlock, splitBlocks } from '../agent/caddyfile-blocks';
import { renderCaddyfile } from './render-caddyfile';

/**
 * The next registry with the live Caddyfile's hand-written blocks kept. Decision: blocks Portside did
 * not render (a site added by hand) are kept verbatim in the registry's `extra` and rendered after
 * Portside's own sites, so no deploy drops what a person added and Caddy already serves; deleting one
 * from the Caddyfile by hand drops it. A hand edit *inside* a block Portside renders cannot be kept
 * (Portside owns that block): it is replaced, and said so, and the replaced file is kept on the server.
 * `current` is the registry the live file was rendered from, `next` the one about to be applied (a
 * block either of them renders is Portside's). Every change to what is kept is logged. `live` null
 * (no Caddyfile) keeps `extra` as it was.
 */
export function keepHandWritten(current: Registry, next: Registry, live: string | null, log: (line: string) => void): Registry {
  if (live === null) return next;
  const oursNow = new Map(splitBlocks(renderCaddyfile({ ...current, extra: undefined })).map((b) => [b.key, b]));
  const oursNext = new Set(splitBlocks(renderCaddyfile({ ...next, extra: undefined })).map((b) => b.key));
  const kept = new Map(splitBlocks(current.extra ?? '').map((b) => [b.key, b]));
  const label = (key: string): string => key || '(global options)';
  const foreign: CaddyBlock[] = [];
  const seen = new Set<string>();
  for (const b of splitBlocks(live)) {
    seen.add(b.key);
    const mine = oursNow.get(b.key);
    if (mine) {
      if (squash(mine.text) !== squash(b.text)) {
        log(`  the Caddyfile's "${label(b.key)}" block differs from what Portside rendered (a hand edit?); Portside owns that block, so it is rendered again `
          + `(the replaced Caddyfile is kept in ~/${CADDYFILE_HISTORY_DIR}/). Custom sites belong in a block of their own: those are kept`);
      }
    } else if (oursNext.has(b.key)) {
      if (kept.has(b.key)) log(`  "${label(b.key)}" is now a Portside route: the hand-written block of that name is replaced by Portside's`);
    } else {
      foreign.push(b);
      const was = kept.get(b.key);
      if (!was) log(`  kept "${label(b.key)}" verbatim: it is in the Caddyfile but Portside did not write it (recorded as the registry's "extra"; delete it from the Caddyfile to drop it)`);
      else if (squash(was.text) !== squash(b.text)) log(`  kept the hand edit of "${label(b.key)}" (a block Portside keeps verbatim)`);
    }
  }
  for (const key of kept.keys()) if (!seen.has(key)) log(`  "${label(key)}" was deleted from the Caddyfile by hand: no longer kept`);
  const extra = foreign.map((b) => b.text.trim()).join('\n\n');
  const { extra: _dropped, ...rest } = next;
  return extra ? { ...rest, extra } : rest;
}

function squash(text: string): string {
  return text.split('\n').map((l) => l.trimEnd()).join('\n').trim();
}
