import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// npm 11.16+ prints an advisory for every dependency whose install script package.json's
// `allowScripts` does not mention, and npm 12 skips those scripts. This keeps the policy complete:
// a dependency update that brings a new install script fails here, not as a warning on a
// newcomer's first `npm install` (or a silently missing binary under npm 12).

const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, unknown> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; hasInstallScript?: boolean; link?: boolean }>;
};

/** `name@1.2.3 || 1.2.4` → name and exact versions; a bare name matches every version (npm's rule). */
function parseKey(key: string): { name: string; versions: string[] | null } {
  const at = key.indexOf('@', key.startsWith('@') ? 1 : 0);
  if (at < 0) return { name: key, versions: null };
  return { name: key.slice(0, at), versions: key.slice(at + 1).split('||').map((v) => v.trim()) };
}

/** Every installed package that has an install script, as `name@version`, from the lock file. */
function withInstallScripts(): { name: string; version: string }[] {
  return Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && p.hasInstallScript && !p.link)
    .map(([path, p]) => ({ name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), version: p.version ?? '' }));
}

const policy = Object.entries(pkg.allowScripts ?? {}).map(([key, value]) => ({ key, value, ...parseKey(key) }));

describe('package.json allowScripts (npm install-script policy)', () => {
  test('every dependency with an install script in package-lock.json has an entry', () => {
    const uncovered = withInstallScripts()
      .filter((d) => !policy.some((e) => e.name === d.name && (e.versions === null || e.versions.includes(d.version))))
      .map((d) => `${d.name}@${d.version}`);
    // Read its package.json "scripts" (preinstall/install/postinstall), then run
    // `npm install-scripts deny <pkg>` (Portside works without it) or `npm install-scripts approve <pkg>`.
    expect(uncovered).toEqual([]);
  });

  test('every entry is a plain true or false (npm ignores anything else)', () => {
    expect(policy.filter((e) => typeof e.value !== 'boolean').map((e) => e.key)).toEqual([]);
  });

  test('every entry still names an installed package with an install script (no stale entries)', () => {
    const installed = withInstallScripts();
    const stale = policy
      .filter((e) => !installed.some((d) => d.name === e.name && (e.versions === null || e.versions.includes(d.version))))
      .map((e) => e.key);
    // `npm install-scripts prune` removes these.
    expect(stale).toEqual([]);
  });
});
