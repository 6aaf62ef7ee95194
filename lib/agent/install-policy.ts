// Which install scripts may run on the server: pure functions over package.json and package-lock.json.
// Install scripts (preinstall, install, postinstall) are off unless the service's package.json allows them
// in npm's own `allowScripts` field (npm 11.16+, written by `npm approve-scripts <pkg>`; npm 12 blocks
// what it does not list). Entries: "pkg" or "pkg@<version or range>" → true (allow) or false (deny).

/** The parts of a service's package.json the policy reads. */
export interface PackageJson {
  readonly name?: unknown;
  readonly version?: string;
  readonly scripts?: Record<string, unknown>;
  readonly allowScripts?: unknown;
  readonly dependencies?: Record<string, string>;
}

/** One entry of a lockfile's `packages` (v2/v3; node_modules/.package-lock.json has the same shape). */
export interface LockEntry {
  readonly name?: string;
  readonly version?: string;
  readonly hasInstallScript?: boolean;
  readonly dev?: boolean;
  readonly link?: boolean;
  readonly resolved?: string;
}

/** The parts of package-lock.json the policy reads. */
export interface PackageLock {
  readonly packages?: Record<string, LockEntry | null | undefined>;
}

/** A dependency that has install scripts. */
export interface ScriptedDependency {
  readonly name: string;
  readonly version: string;
}

/** A package whose install scripts do not run: `label` for the note, `name` for its allowScripts example. */
export interface SkippedScripts {
  readonly label: string;
  readonly name: string;
}

/** What the install runs; see planScripts. */
export interface ScriptPlan {
  readonly rebuild: string[];
  readonly root: string[];
  readonly skipped: SkippedScripts[];
}

/** The lifecycle scripts `npm ci` runs for the project itself, in npm's order. */
export const ROOT_SCRIPTS: readonly string[] = ['preinstall', 'install', 'postinstall'];
// A package name, optionally "@version-or-range". No leading "-": an entry becomes an argument of `npm rebuild`.
const ENTRY = /^(@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*(@[^\s]+( [^\s]+)*)?$/i;

/** A malformed `allowScripts` field: the message gives the value, the rule and the fix. */
export class PolicyError extends Error {}

/** "pkg@1.2.3" → "pkg"; "@scope/pkg@^1" → "@scope/pkg". */
export function entryName(entry: string): string {
  const at = entry.indexOf('@', 1);
  return at === -1 ? entry : entry.slice(0, at);
}

/** package.json's `allowScripts` as lists of entries; throws a PolicyError (value, rule, fix) on a malformed field. */
export function parseAllowScripts(pkg: PackageJson | null | undefined): { allow: string[]; deny: string[] } {
  const field = pkg ? pkg.allowScripts : undefined;
  if (field === undefined || field === null) return { allow: [], deny: [] };
  const example = 'e.g. "allowScripts": { "bcrypt": true } (npm approve-scripts bcrypt writes it)';
  if (typeof field !== 'object' || Array.isArray(field)) {
    throw new PolicyError(`package.json "allowScripts" is ${JSON.stringify(field)}; it must be an object of package names to true or false, ${example}`);
  }
  const allow: string[] = [];
  const deny: string[] = [];
  for (const [entry, value] of Object.entries(field)) {
    if (!ENTRY.test(entry)) {
      throw new PolicyError(`package.json "allowScripts" has the entry ${JSON.stringify(entry)}, which is not a package name or name@version; ${example}`);
    }
    if (typeof value !== 'boolean') {
      throw new PolicyError(`package.json "allowScripts"[${JSON.stringify(entry)}] is ${JSON.stringify(value)}; it must be true (allow) or false (deny)`);
    }
    (value ? allow : deny).push(entry);
  }
  return { allow, deny };
}

/** The project's own install scripts that npm would run. */
export function rootScripts(pkg: PackageJson | null | undefined): string[] {
  const scripts = (pkg && pkg.scripts) || {};
  return ROOT_SCRIPTS.filter((s) => typeof scripts[s] === 'string' && (scripts[s] as string).trim() !== '');
}

/**
 * Dependencies with install scripts, from a lockfile (v2/v3 `packages`; the hidden node_modules/.package-lock.json
 * has the same shape), sorted, one per name@version. Dev dependencies are left out: the server installs with --omit=dev.
 */
export function scriptedDependencies(lock: PackageLock | null | undefined): ScriptedDependency[] {
  const packages = (lock && lock.packages) || {};
  const seen = new Map<string, ScriptedDependency>();
  const nameAt = (key: string): string => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
  // A `file:` folder dependency's entry is keyed by its folder; the link to it in node_modules has its name.
  const linkedAs = new Map(Object.entries(packages).filter(([, e]) => e && e.link).map(([key, e]) => [e?.resolved, nameAt(key)]));
  for (const [key, entry] of Object.entries(packages)) {
    if (key === '' || !entry || !entry.hasInstallScript || entry.dev) continue;
    const name = entry.name || (key.includes('node_modules/') ? nameAt(key) : linkedAs.get(key) || key);
    const version = entry.version || '';
    seen.set(`${name}@${version}`, { name, version });
  }
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

/** Does an entry cover this package? A range is left to npm (`npm rebuild` matches it): it counts by name here. */
function covers(entry: string, name: string, version: string): boolean {
  if (entry === name) return true;
  if (entryName(entry) !== name) return false;
  const spec = entry.slice(name.length + 1);
  return /^\d+\.\d+\.\d+/.test(spec) ? spec === version : true;
}

/**
 * What the install runs: `rebuild` (entries for `npm rebuild`), `root` (the project's own scripts to run),
 * `skipped` (what has install scripts and is not allowed, for the note). Denied entries win.
 * `lock` null: every allowed entry is rebuilt (npm matches them).
 */
export function planScripts(pkg: PackageJson | null | undefined, lock: PackageLock | null | undefined): ScriptPlan {
  const { allow, deny } = parseAllowScripts(pkg);
  const own = pkg && typeof pkg.name === 'string' ? pkg.name : null;
  const allowed = (name: string, version: string): boolean => allow.some((e) => covers(e, name, version)) && !deny.some((e) => covers(e, name, version));
  const deps = lock ? scriptedDependencies(lock) : [];
  const rebuild = allow.filter((e) => entryName(e) !== own && (!lock || deps.some((d) => covers(e, d.name, d.version))));
  const mine = rootScripts(pkg);
  const root = mine.length && own && allowed(own, pkg?.version || '') ? mine : [];
  const skipped = deps.filter((d) => !allowed(d.name, d.version)).map((d) => ({ label: `${d.name}@${d.version}`, name: d.name }));
  if (mine.length && !root.length) skipped.unshift({ label: `this service's own ${mine.join(', ')} (package "${own || '<no name>'}")`, name: own || '<its name>' });
  return { rebuild, root, skipped };
}

/** The note for scripts that did not run: what, and how to allow them; null when nothing was skipped. */
export function skippedNote(skipped: readonly SkippedScripts[], buildUser: string): string | null {
  if (!skipped.length) return null;
  const example = skipped.map((s) => `"${s.name}": true`).join(', ');
  return `install scripts skipped (off by default on the server): ${skipped.map((s) => s.label).join(', ')}. If the service needs them, allow them in its package.json: `
    + `"allowScripts": { ${example} } (\`npm approve-scripts <pkg>\` writes a dependency's entry); allowed scripts run as the separate user "${buildUser}", which cannot write the deploy user's files`;
}
