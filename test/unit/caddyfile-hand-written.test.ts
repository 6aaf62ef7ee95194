/**
 * Sites a person added to the live Caddyfile are kept verbatim by the next render (the registry's
 * "extra"), and every change to what is kept is said; edits inside Portside's own blocks are replaced, loudly.
 */
import { keepHandWritten, renderCaddyfile } from '../../lib/caddy';
import { parseRegistry, Registry, renderRegistry, withService, withoutService } from '../../lib/registry';
import { splitBlocks } from '../../lib/agent/caddyfile-blocks';

const REG: Registry = {
  version: 1, domain: 'portside.test', routing: 'subdomain', tls: 'internal', services: { simon: 3000 },
  paths: { www: '/srv/www', caddyfile: '/etc/portside/Caddyfile' },
};
const HAND = '# my blog\nblog.example.org {\n\treverse_proxy 127.0.0.1:8080 # not a service\n\theader X-Y "a } b"\n}';

function run(current: Registry, next: Registry, live: string | null): { reg: Registry; lines: string[] } {
  const lines: string[] = [];
  return { reg: keepHandWritten(current, next, live, (l) => lines.push(l.trim())), lines };
}

describe('splitBlocks', () => {
  test('finds global options, snippets and sites; placeholders and quoted braces open nothing', () => {
    const blocks = splitBlocks(`${renderCaddyfile(REG)}\n${HAND}\n{$SITE} {\n\trespond {path}\n}\n`);
    expect(blocks.map((b: { key: string }) => b.key)).toEqual(['', '(portside_headers)', 'portside.test', 'simon.portside.test', 'blog.example.org', '{$SITE}']);
    expect(blocks[4].text).toBe(HAND);
  });

  test('addresses are one key in any order', () => {
    expect(splitBlocks('b.org, a.org {\n}\n')[0].key).toBe(splitBlocks('a.org b.org {\n}\n')[0].key);
  });
});

describe('keepHandWritten', () => {
  test('a site added by hand is kept verbatim, recorded in extra, rendered after Portside\'s sites, and said so', () => {
    const live = `${renderCaddyfile(REG)}\n${HAND}\n`;
    const { reg, lines } = run(REG, withService(REG, 'new', 3001), live);
    expect(reg.extra).toBe(HAND);
    expect(reg.services).toEqual({ simon: 3000, new: 3001 });
    const out = renderCaddyfile(reg);
    expect(out).toContain(HAND);
    expect(out.indexOf(HAND)).toBeGreaterThan(out.indexOf('new.portside.test {'));
    expect(lines).toEqual([expect.stringMatching(/^kept "blog\.example\.org" verbatim: it is in the Caddyfile but Portside did not write it/)]);
    expect(parseRegistry(renderRegistry(reg)).extra).toBe(HAND);
  });

  test('once kept, a re-render is stable and says nothing', () => {
    const kept = run(REG, REG, `${renderCaddyfile(REG)}\n${HAND}\n`).reg;
    const again = run(kept, kept, renderCaddyfile(kept));
    expect(again.lines).toEqual([]);
    expect(renderCaddyfile(again.reg)).toBe(renderCaddyfile(kept));
  });

  test('deleting a kept site from the Caddyfile by hand drops it, and says so', () => {
    const kept = { ...REG, extra: HAND };
    const { reg, lines } = run(kept, kept, renderCaddyfile(REG));
    expect(reg.extra).toBeUndefined();
    expect(lines).toEqual(['"blog.example.org" was deleted from the Caddyfile by hand: no longer kept']);
  });

  test('an edit inside a block Portside renders is replaced, loudly, naming the block', () => {
    const live = renderCaddyfile(REG).replace('reverse_proxy 127.0.0.1:3000 {', 'reverse_proxy 127.0.0.1:3999 {');
    const { reg, lines } = run(REG, REG, live);
    expect(reg.extra).toBeUndefined();
    expect(lines).toEqual([expect.stringMatching(/^the Caddyfile's "simon\.portside\.test" block differs from what Portside rendered .*kept in ~\/\.portside\/caddyfile\.history\//)]);
  });

  test('removing a service does not keep its old block as a hand-written one', () => {
    const { reg, lines } = run(REG, withoutService(REG, 'simon'), renderCaddyfile(REG));
    expect(reg.extra).toBeUndefined();
    expect(lines).toEqual([]);
  });

  test('a service deployed under a kept site\'s name takes the name over, and says so', () => {
    const hand = 'blog.portside.test {\n\trespond "by hand"\n}';
    const kept = { ...REG, extra: hand };
    const { reg, lines } = run(kept, withService(kept, 'blog', 3001), renderCaddyfile(kept));
    expect(reg.extra).toBeUndefined();
    expect(lines).toEqual(['"blog.portside.test" is now a Portside route: the hand-written block of that name is replaced by Portside\'s']);
  });

  test('no live Caddyfile: what is kept stays', () => {
    const kept = { ...REG, extra: HAND };
    expect(run(kept, kept, null).reg.extra).toBe(HAND);
  });
});
