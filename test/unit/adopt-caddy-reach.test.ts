/**
 * Where adopt keeps Portside's Caddyfile (lib/adopt/caddy-reach.ts): a folder Caddy's own user can read
 * after a restart or a reboot (the import in /etc/caddy/Caddyfile is read as `caddy`, to whom Ubuntu's
 * 0750 home is closed) and the deploy user can write. The facts script runs for real on this machine.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyRefusal, formatPlan, planAdoption } from '../../lib/adopt';
import { adoptedImport } from '../../lib/adopt/adopted';
import { CADDY_DEFAULT_ROOT, CandidateFolder, mayTraverse, parseRootFacts, PortsideRootFacts, portsideRootOf, READ_SCRIPT } from '../../lib/adopt/caddy-reach';
import { courseFacts, courseRoots, pm2Process } from '../support/course-facts';

const CADDY = { uid: 998, gids: [998, 33] };
const dir = (path: string, mode: number, uid = 0, gid = uid) => ({ path, mode, uid, gid });

/** /usr/share/caddy owned by `owner` (uid), writable by ubuntu or not. */
function defaultRoot(over: Partial<CandidateFolder> = {}): PortsideRootFacts {
  const base = courseRoots();
  return { ...base, folders: [{ ...base.folders[0], ...over }] };
}

/** /usr/share/caddy as the Caddy package leaves it: root's, mode 755 (ubuntu cannot write it). */
const rootsOwn = (): PortsideRootFacts => defaultRoot({ writable: false, chain: [dir('/', 0o755), dir('/usr', 0o755), dir('/usr/share', 0o755), dir('/usr/share/caddy', 0o755)] });

/** The static root ~/public_html (a real folder in the home), whose home is `homeMode`. */
function homeRoot(homeMode: number): PortsideRootFacts {
  const chain = [dir('/', 0o755), dir('/home', 0o755), dir('/home/ubuntu', homeMode, 1000), dir('/home/ubuntu/public_html', 0o755, 1000)];
  return { ...courseRoots(), folders: [{ path: '/home/ubuntu/public_html', exists: true, writable: true, chain }] };
}

const NO_STATIC = [':80 {', '\thandle_path /simon/* {', '\t\treverse_proxy localhost:3000', '\t}', '}', ''].join('\n');
const noStaticPlan = (roots: PortsideRootFacts) => planAdoption(courseFacts({ caddyfile: NO_STATIC, processes: [pm2Process('simon', 3000, 101)], roots }));

describe('mayTraverse: the x bit of the class POSIX picks', () => {
  test('other, group, owner; the owner\'s bits alone count for the owner; root passes everything', () => {
    expect(mayTraverse(dir('/usr/share/caddy', 0o755, 1000), CADDY)).toBe(true);
    expect(mayTraverse(dir('/home/ubuntu', 0o750, 1000), CADDY)).toBe(false);
    expect(mayTraverse(dir('/home/ubuntu', 0o750, 1000, 33), CADDY)).toBe(true);
    expect(mayTraverse(dir('/srv/x', 0o071, 998, 998), CADDY)).toBe(false);
    expect(mayTraverse(dir('/root', 0o700, 0), { uid: 0, gids: [0] })).toBe(true);
  });
});

describe('portsideRootOf: where Portside\'s Caddyfile goes, or why nowhere', () => {
  test('no static site: Caddy\'s default root, which the course gives to ubuntu', () => {
    expect(portsideRootOf(null, courseRoots(), 'ubuntu')).toEqual({ root: CADDY_DEFAULT_ROOT });
  });

  test('a static root: that root (its files are hard-linked into the first release), trailing slash or not', () => {
    expect(portsideRootOf('/home/ubuntu/public_html/', homeRoot(0o755), 'ubuntu')).toEqual({ root: '/home/ubuntu/public_html' });
  });

  test('no static site and /usr/share/caddy is root\'s: refused, value, rule and fix', () => {
    const r = portsideRootOf(null, rootsOwn(), 'ubuntu');
    expect(r).toEqual({ root: null, problem: {
      kind: 'caddy-cannot-read',
      message: 'ubuntu cannot create folders in /usr/share/caddy, Caddy\'s default root (this server has no static site), mode 755, owner uid 0: Portside keeps its Caddyfile there, where Caddy (user caddy, from caddy.service\'s User=caddy) can read it',
      fix: 'give the folder to ubuntu, as the course does for /usr/share/caddy (sudo chown ubuntu /usr/share/caddy), then run adopt again',
    } });
  });

  test('a static root inside a 0750 home: Caddy (user caddy) could not read the Caddyfile there; the fix opens the home', () => {
    const r = portsideRootOf('/home/ubuntu/public_html', homeRoot(0o750), 'ubuntu');
    expect(r.root).toBeNull();
    expect(r).toMatchObject({ problem: {
      kind: 'caddy-cannot-read',
      message: 'Caddy (user caddy, from caddy.service\'s User=caddy) could not read /home/ubuntu/public_html/.portside-www/caddy/Caddyfile, which /etc/caddy/Caddyfile would import at Caddy\'s next start (a restart or a reboot): /home/ubuntu is mode 750, owner uid 1000, group 1000, and lets caddy neither in as owner, group nor other',
      fix: 'let it through (sudo chmod o+x /home/ubuntu), or serve the site from /usr/share/caddy, then run adopt again',
    } });
  });

  test('no /usr/share/caddy at all, or the facts could not be read: refused', () => {
    expect(portsideRootOf(null, defaultRoot({ exists: false, chain: [] }), 'ubuntu')).toMatchObject({ root: null, problem: { kind: 'caddy-cannot-read', fix: 'create it and give it to ubuntu (sudo mkdir -p /usr/share/caddy && sudo chown ubuntu /usr/share/caddy), then run adopt again' } });
    expect(portsideRootOf(null, { error: '`sh -c set` exited with 127: stat: not found' }, 'ubuntu')).toMatchObject({ root: null, problem: { message: expect.stringContaining('stat: not found') } });
  });
});

describe('the plan', () => {
  test('no static site, Caddy\'s default root readable and ubuntu\'s: Portside\'s files there, the import names them, the plan says so', () => {
    const plan = noStaticPlan(courseRoots());
    expect(plan.staticSite).toBeNull();
    expect(plan.portsideRoot).toBe('/usr/share/caddy');
    expect(adoptedImport(plan)).toBe('import /usr/share/caddy/.portside-www/caddy/Caddyfile');
    expect(applyRefusal(plan)).toBeNull();
    expect(formatPlan(plan, 'ubuntu@h')).toContain('  Files   Portside\'s Caddyfile and static releases in /usr/share/caddy/.portside-www (Caddy\'s user can read it, ubuntu can write it)');
  });

  test('no such folder: the plan has a caddy-cannot-read problem, and applying is refused with its fix', () => {
    const plan = noStaticPlan(rootsOwn());
    expect(plan.portsideRoot).toBeNull();
    expect(plan.problems.map((p) => p.kind)).toEqual(['caddy-cannot-read']);
    expect(applyRefusal(plan)).toMatch(/^the plan has problems to fix first: ubuntu cannot create folders in \/usr\/share\/caddy, .* \(fix: give the folder to ubuntu, .*sudo chown ubuntu \/usr\/share\/caddy.*\)$/);
  });
});

describe('READ_SCRIPT on this machine (real sh, stat, readlink, /proc)', () => {
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'adopt-reach-'));
    mkdirSync(join(base, 'home'), { mode: 0o750 });
    chmodSync(join(base, 'home'), 0o750);
    mkdirSync(join(base, 'home', 'site'));
    symlinkSync(join(base, 'home', 'site'), join(base, 'link'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  test('a running process\'s user, and each folder\'s chain with links resolved; a missing folder says so', () => {
    const out = execFileSync('sh', ['-c', READ_SCRIPT, 'read-roots', String(process.pid), join(base, 'link'), join(base, 'missing')], { encoding: 'utf8' });
    const facts = parseRootFacts(out);
    const uid = process.getuid!();
    expect(facts.caddyUser).toMatchObject({ uid, how: `the running Caddy (pid ${process.pid})` });
    expect(facts.caddyUser!.gids).toContain(process.getgid!());
    const [link, missing] = facts.folders;
    expect(missing).toEqual({ path: join(base, 'missing'), exists: false, writable: false, chain: [] });
    expect(link.exists).toBe(true);
    expect(link.writable).toBe(true);
    const real = join(base, 'home', 'site');
    const expected = ['/', ...real.split('/').slice(1).map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`)];
    expect(link.chain.map((d) => d.path)).toEqual(expected);
    for (const d of link.chain) expect(d).toEqual({ path: d.path, mode: statSync(d.path).mode & 0o7777, uid: statSync(d.path).uid, gid: statSync(d.path).gid });
    expect(link.chain.find((d) => d.path === join(base, 'home'))!.mode).toBe(0o750);
  });
});
