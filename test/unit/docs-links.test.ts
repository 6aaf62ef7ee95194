/**
 * The README and docs/ stay navigable as people add to them: every relative link (and its #anchor)
 * resolves, every repository path the docs cite in backticks exists, the README stays short, and no
 * section heading appears twice anywhere (one topic, one place).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const README_MAX_LINES = 300;

/** README.md and every docs/*.md, as paths relative to the repository root. */
function docFiles(): string[] {
  const docs = existsSync(join(ROOT, 'docs'))
    ? readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)
    : [];
  return ['README.md', ...docs];
}

const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

/** The text outside fenced code blocks (links and headings inside ``` are examples, not structure). */
function prose(md: string): string[] {
  let fenced = false;
  return md.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** `## Heading` lines (levels 2–4) with their text. */
function headings(md: string): Array<{ level: number; text: string }> {
  return prose(md).flatMap((line) => {
    const m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    return m ? [{ level: m[1].length, text: m[2] }] : [];
  });
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens. */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Every anchor a file offers, with GitHub's -1, -2 suffixes for repeated headings. */
function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headings(md)) {
    const base = slug(h.text);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Inline links and images `[text](target)` outside code, with the line they are on. */
function links(md: string): Array<{ target: string; line: number }> {
  const out: Array<{ target: string; line: number }> = [];
  prose(md).forEach((line, i) => {
    // Inline code is an example, not a link; a link's own text may hold code, which it does not need.
    const withoutCode = line.replace(/`[^`]*`/g, '');
    for (const m of withoutCode.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ target: m[1], line: i + 1 });
  });
  return out;
}

/** Broken relative links in one file, each as "file:line → target: why". */
function brokenLinks(file: string): string[] {
  const problems: string[] = [];
  for (const { target, line } of links(read(file))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const dest = pathPart === '' ? file : relative(ROOT, resolve(ROOT, dirname(file), decodeURI(pathPart)));
    const where = `${file}:${line} → ${target}`;
    if (dest.startsWith('..') || !existsSync(join(ROOT, dest))) {
      problems.push(`${where}: ${dest} does not exist`);
      continue;
    }
    if (anchor !== undefined && dest.endsWith('.md') && !anchorsOf(read(dest)).has(anchor)) {
      problems.push(`${where}: ${dest} has no heading with the anchor #${anchor}`);
    }
  }
  return problems;
}

/** Folders .gitignore names (`bench/work/`): made at run time, so a fresh checkout lacks them. */
function generatedFolders(): string[] {
  return read('.gitignore').split('\n').map((l) => l.trim()).filter((l) => l.endsWith('/') && !l.startsWith('#'));
}

/** Repository paths cited in backticks (`lib/ports`, `test/e2e/ssh.test.ts`) that do not exist. */
function missingCitedPaths(file: string): string[] {
  const generated = generatedFolders();
  const problems: string[] = [];
  prose(read(file)).forEach((line, i) => {
    for (const m of line.matchAll(/`((?:bin|lib|assets|test|bench|docs|\.ci)\/[A-Za-z0-9_./-]*)`/g)) {
      if (generated.some((g) => `${m[1]}/`.startsWith(g))) continue;
      if (!existsSync(join(ROOT, m[1]))) problems.push(`${file}:${i + 1}: \`${m[1]}\` does not exist`);
    }
  });
  return problems;
}

describe('README and docs/', () => {
  const files = docFiles();

  test('docs/ exists and holds the pages the README links to', () => {
    expect(files.length).toBeGreaterThan(1);
    expect(statSync(join(ROOT, 'docs')).isDirectory()).toBe(true);
  });

  test(`README.md is at most ${README_MAX_LINES} lines`, () => {
    const lines = read('README.md').replace(/\n$/, '').split('\n').length;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
  });

  test('every relative link points to an existing file, and every #anchor to a heading in it', () => {
    expect(files.flatMap(brokenLinks)).toEqual([]);
  });

  test('every repository path cited in backticks exists', () => {
    expect(files.flatMap(missingCitedPaths)).toEqual([]);
  });

  test('no ## / ### / #### heading appears twice across README.md and docs/', () => {
    const where = new Map<string, string[]>();
    for (const file of files) {
      for (const h of headings(read(file)).filter((x) => x.level >= 2 && x.level <= 4)) {
        const key = slug(h.text);
        where.set(key, [...(where.get(key) ?? []), `${file}: ${h.text}`]);
      }
    }
    const repeated = [...where.values()].filter((list) => list.length > 1);
    expect(repeated).toEqual([]);
  });

  test('the checker itself: GitHub\'s anchors, links outside code only, suffixes for repeated headings', () => {
    expect(slug('What a later `cdk deploy` changes on a running server')).toBe('what-a-later-cdk-deploy-changes-on-a-running-server');
    expect(slug('Taking it live: `portside sync-config`')).toBe('taking-it-live-portside-sync-config');
    expect(links('see [a](x.md#y) and ![p](../b.svg) but not `[c](d)`\n```\n[e](f)\n```').map((l) => l.target)).toEqual(['x.md#y', '../b.svg']);
    expect([...anchorsOf('## A\n## A\n```\n## B\n```')]).toEqual(['a', 'a-1']);
  });
});
