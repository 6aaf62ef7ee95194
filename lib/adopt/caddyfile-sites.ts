import { CaddyBlock, splitBlocks } from '../agent/caddyfile-blocks';

/** One directive at the top of a site block, with any `{ … }` it opens. */
export interface Directive {
  /** Its first word: `reverse_proxy`, `header`, `root`… */
  readonly name: string;
  /** As written, whitespace inside lines kept; a multi-line directive keeps its lines. */
  readonly text: string;
}

/** A top-level Caddyfile block, read for adopt. */
export interface FileBlock {
  readonly block: CaddyBlock;
  readonly kind: 'global' | 'snippet' | 'site';
  /** For a site: the host names of its addresses (scheme, port and path removed); '' for an address with no host (`:80`). */
  readonly hosts: readonly string[];
  readonly directives: readonly Directive[];
}

/** The Caddyfile's blocks with their addresses and directives (pure). */
export function readCaddyfile(text: string): FileBlock[] {
  return splitBlocks(text).map((block) => {
    const kind = block.key === '' ? 'global' : /^\(.*\)$/.test(block.header.trim()) ? 'snippet' : 'site';
    return { block, kind, hosts: kind === 'site' ? block.header.split(/[\s,]+/).filter(Boolean).map(hostOf) : [], directives: directivesOf(block.text) };
  });
}

/** `https://simon.example.com:443/x` → `simon.example.com`; `:80` → ''. */
export function hostOf(address: string): string {
  return address.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').replace(/:\d*$/, '').toLowerCase();
}

/** The statements inside a block's outermost braces, one per top-level directive. */
function directivesOf(text: string): Directive[] {
  const open = text.search(/(^|\s)\{(\s|$)/);
  const close = text.lastIndexOf('}');
  if (open < 0 || close < open) return [];
  const body = text.slice(text.indexOf('{', open) + 1, close);
  const out: Directive[] = [];
  let depth = 0;
  let current: string[] = [];
  for (const raw of body.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    const code = line.replace(/(^|\s)#.*$/, '');
    if (depth === 0 && !code.trim()) continue;
    current.push(line.trim() && depth === 0 ? line.trim() : line);
    for (const token of code.trim().split(/\s+/)) {
      if (token === '{') depth++;
      else if (token === '}') depth--;
    }
    if (depth <= 0) {
      depth = 0;
      const statement = current.join('\n');
      out.push({ name: statement.trim().split(/\s+/)[0], text: statement });
      current = [];
    }
  }
  return out;
}
