// The pure half of the agent's install (lib/agent/install-policy.ts): which install scripts may run.
import * as policy from '../../lib/agent/install-policy';

const LOCK = {
  packages: {
    '': { name: 'app', version: '1.0.0', hasInstallScript: true },
    'node_modules/bcrypt': { version: '5.1.1', hasInstallScript: true },
    'node_modules/express': { version: '4.21.2' },
    'node_modules/a/node_modules/esbuild': { version: '0.20.0', hasInstallScript: true },
    'node_modules/jest-thing': { version: '1.0.0', hasInstallScript: true, dev: true },
    'node_modules/local-lib': { resolved: 'libs/local', link: true },
    'libs/local': { version: '2.0.0', hasInstallScript: true },
  },
};
const app = (extra: Record<string, unknown> = {}) => ({ name: 'app', version: '1.0.0', scripts: { postinstall: 'node setup.js', start: 'node .' }, ...extra });

describe('allowScripts (package.json, npm\'s own field)', () => {
  test('absent: nothing runs, and every package with install scripts is named as skipped (dev ones left out)', () => {
    const plan = policy.planScripts(app(), LOCK);
    expect(plan.rebuild).toEqual([]);
    expect(plan.root).toEqual([]);
    expect(plan.skipped.map((s: { label: string }) => s.label)).toEqual([
      'this service\'s own postinstall (package "app")', 'bcrypt@5.1.1', 'esbuild@0.20.0', 'local-lib@2.0.0']);
  });

  test('a name or a pinned name@version allows; the project\'s own name allows its own scripts', () => {
    const plan = policy.planScripts(app({ allowScripts: { bcrypt: true, 'esbuild@0.20.0': true, app: true } }), LOCK);
    expect(plan.rebuild).toEqual(['bcrypt', 'esbuild@0.20.0']);
    expect(plan.root).toEqual(['postinstall']);
    expect(plan.skipped.map((s: { label: string }) => s.label)).toEqual(['local-lib@2.0.0']);
  });

  test('a pin to another version does not allow, and false denies without a note', () => {
    const plan = policy.planScripts(app({ allowScripts: { 'bcrypt@5.0.0': true, esbuild: false, 'local-lib': true } }), LOCK);
    expect(plan.rebuild).toEqual(['local-lib']);
    expect(plan.skipped.map((s: { label: string }) => s.label)).toEqual(['this service\'s own postinstall (package "app")', 'bcrypt@5.1.1', 'esbuild@0.20.0']);
  });

  test('an allowed entry that matches nothing with install scripts is not rebuilt', () => {
    expect(policy.planScripts(app({ allowScripts: { sharp: true } }), LOCK).rebuild).toEqual([]);
    // Without a lockfile npm decides what matches.
    expect(policy.planScripts(app({ allowScripts: { sharp: true } }), null).rebuild).toEqual(['sharp']);
  });

  test('the note names what was skipped and the exact field that allows it', () => {
    const note = policy.skippedNote(policy.planScripts(app(), { packages: { 'node_modules/bcrypt': LOCK.packages['node_modules/bcrypt'] } }).skipped, 'portside-build');
    expect(note).toBe('install scripts skipped (off by default on the server): this service\'s own postinstall (package "app"), bcrypt@5.1.1. '
      + 'If the service needs them, allow them in its package.json: "allowScripts": { "app": true, "bcrypt": true } (`npm approve-scripts <pkg>` writes a dependency\'s entry); '
      + 'allowed scripts run as the separate user "portside-build", which cannot write the deploy user\'s files');
    expect(policy.skippedNote([], 'portside-build')).toBeNull();
  });

  test.each([
    [['bcrypt'], /"allowScripts" is \["bcrypt"\]; it must be an object of package names to true or false, e\.g\. "allowScripts": \{ "bcrypt": true \}/],
    ['bcrypt', /"allowScripts" is "bcrypt"; it must be an object/],
    [{ bcrypt: 'yes' }, /"allowScripts"\["bcrypt"\] is "yes"; it must be true \(allow\) or false \(deny\)/],
    [{ '--dangerously-allow-all-scripts': true }, /has the entry "--dangerously-allow-all-scripts", which is not a package name or name@version/],
    [{ 'a b': true }, /has the entry "a b", which is not a package name/],
  ])('throws on allowScripts %j with the value, the rule and the fix', (field, message) => {
    expect(() => policy.parseAllowScripts({ allowScripts: field })).toThrow(message);
  });

  test('scoped names and ranges parse', () => {
    expect(policy.parseAllowScripts({ allowScripts: { '@scope/pkg@^1.2.0': true, 'x@1 || 2': false } })).toEqual({ allow: ['@scope/pkg@^1.2.0'], deny: ['x@1 || 2'] });
    expect(policy.entryName('@scope/pkg@^1.2.0')).toBe('@scope/pkg');
  });
});
