/**
 * `npm run rehearse-boot`: the EC2 boot rehearsed on this machine (lib/rehearse). Needs root, unshare and an
 * overlay filesystem; skips, saying why, without them. Uses its own namespaces, never the shared local server.
 * All rehearsals run up front, three at a time (each is independent: its own namespaces and temp folder).
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { bootSteps, failableSteps, rehearsalUnavailable, rehearseBoot, RehearsalReport } from '../../lib/rehearse';

process.env.JSII_DEPRECATED = 'quiet';

test('the step list is read from the scripts: the stub\'s STEP names, then every top-level `step` of main_ec2 (a fleet server\'s nested ones apart)', () => {
  const steps = bootSteps();
  const bootstrap = readFileSync(join(__dirname, '..', '..', 'assets', 'bootstrap.sh'), 'utf8');
  const main = bootstrap.slice(bootstrap.indexOf('main_ec2() {'), bootstrap.indexOf('\n}\n', bootstrap.indexOf('main_ec2() {')));
  const all = [...main.matchAll(/^\s*(?:\S.*\|\| )?step (\w+)/gm)].map((m) => m[1]);
  const fleetOnly = ['install_converge_hook', 'converge_at_boot'];
  expect(all).toEqual(expect.arrayContaining(fleetOnly));
  expect(steps.filter((s) => s.source === 'bootstrap').map((s) => s.name)).toEqual(all.filter((n) => !fleetOnly.includes(n)));
  expect(steps[0]).toEqual(expect.objectContaining({ name: 'start outside cloud-init', source: 'user-data' }));
  // Every bootstrap step can be made to fail; of the stub's, only the two that cannot fail the boot by themselves are left out.
  expect(steps.filter((s) => s.injection.kind === 'none').map((s) => s.name)).toEqual(['wait for cloud-init', 'run the bootstrap']);
});

/** What a rehearsal must never change on this machine: file contents and folder listings, hashed. */
function hostSnapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = e.isSymbolicLink() ? `-> ${readlinkSync(p)}` : hash(p);
    }
  };
  for (const f of ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/hosts', '/etc/ssl/certs/ca-certificates.crt']) out[f] = hash(f);
  walk('/etc/systemd');
  for (const d of ['/usr/local/bin', '/usr/local/sbin', '/opt', '/home', '/etc', '/var/www', '/var/lib', '/var/log']) {
    out[`ls ${d}`] = existsSync(d) ? readdirSync(d).sort().join(' ') : '(absent)';
  }
  out['/etc/sudoers.d'] = readdirSync('/etc/sudoers.d').sort().join(' ');
  out['/home mode'] = String(lstatSync('/home').mode);
  return out;
}

const why = rehearsalUnavailable();
if (why) console.warn(`skipped: the boot rehearsal cannot run here: ${why}`);

(why ? describe.skip : describe)('rehearse-boot: the EC2 boot in throwaway namespaces', () => {
  const failable = failableSteps();
  let before: Record<string, string>;
  let after: Record<string, string>;
  let clean: RehearsalReport;
  let updateWithFailure: RehearsalReport;
  const failed = new Map<string, RehearsalReport>();
  let wallMs = 0;

  beforeAll(async () => {
    before = hostSnapshot();
    const started = Date.now();
    const jobs: Array<() => Promise<void>> = [
      async () => { clean = await rehearseBoot(); },
      async () => { updateWithFailure = await rehearseBoot({ updateFetchFailures: 1 }); },
      ...failable.map((s) => async () => { failed.set(s.name, await rehearseBoot({ failAt: s.name, update: false })); }),
    ];
    const worker = async () => { for (let job = jobs.shift(); job; job = jobs.shift()) await job(); };
    await Promise.all([worker(), worker(), worker()]);
    wallMs = Date.now() - started;
    after = hostSnapshot();
  }, 180_000);

  afterAll(() => {
    if (clean) console.log(`rehearsals: ${2 + failable.length} in ${(wallMs / 1000).toFixed(1)} s; a clean boot took ${(clean.durationMs / 1000).toFixed(1)} s`);
  });

  test('a clean boot sends exactly one signal, SUCCESS, while Caddy answers on :80 from outside the instance', () => {
    expect([clean.userDataExit, clean.bootExit]).toEqual([0, '0']);
    expect(clean.signalPuts).toBe(1);
    expect(clean.signals).toEqual([expect.objectContaining({ status: 'SUCCESS', uniqueId: 'portside-boot', contentType: null })]);
    // Measured by the signal endpoint, from the AWS side of the veth, at the moment the PUT arrived.
    expect(clean.puts.map((p) => [p.status, p.caddyStatus])).toEqual([['SUCCESS', 200]]);
    expect(clean.steps.every((s) => s.reached)).toBe(true);
    const log = clean.logTail.join('\n');
    expect(log.indexOf('Caddy answers at')).toBeLessThan(log.indexOf('portside-bootstrap: done'));
    // Real Caddy (this machine's), started by the stand-in systemctl from the packaged unit, as user caddy.
    expect(clean.runningAfterBoot).toEqual(expect.arrayContaining([expect.stringMatching(/\/usr\/bin\/caddy run --environ --config \/etc\/caddy\/Caddyfile$/)]));
    expect(clean.aptInstalls).toEqual([['python3-venv', 'curl'], ['python3-venv', 'curl', 'gnupg', 'ca-certificates', 'jq'], ['caddy', 'nodejs']]);
  });

  test('the stand-ins were used as documented: IMDSv2 tokens (401 without one), the metadata, systemd, cloud-init', () => {
    expect(clean.imds.withoutToken).toBe(401);
    expect(clean.imds.tokens).toBeGreaterThan(0);
    // The only 401 is the rehearsal's own check without a token: the helpers always asked for one first.
    expect(clean.imds.unauthorized).toBe(1);
    expect(clean.calls).toEqual(expect.objectContaining({ 'cloud-init': 1, 'systemd-run': 1, pip: 1, 'cfn-get-metadata': 3 }));
    expect(clean.systemctl).toEqual(expect.arrayContaining([['enable', 'caddy'], ['start', 'caddy'], ['daemon-reload'], ['enable', '--now', 'cfn-hup.timer']]));
  });

  test('nothing of any rehearsal lands on this machine (/etc/passwd, /etc/systemd, /opt, /home, … unchanged)', () => {
    expect(after).toEqual(before);
  });

  test.each(failableSteps().map((s) => [s.name, s.injection.how]))('a failure at %s (%s): one FAILURE signal with the step and the log\'s last lines; nothing left running', (name) => {
    const r = failed.get(name)!;
    // Exactly one PUT: the part that failed (bootstrap or stub) signals, and the stub stays silent when
    // the bootstrap already has, so the event names the failing step, never "run the bootstrap".
    expect(r.signals).toHaveLength(1);
    expect(r.puts.map((p) => [p.status, p.uniqueId])).toEqual([['FAILURE', 'portside-boot']]);
    const [signal] = r.signals;
    expect(signal.status).toBe('FAILURE');
    expect(signal.reason).toMatch(new RegExp(`^Portside boot(strap)? failed at step "${name}"`));
    const lastLine = r.logTail[r.logTail.length - 1];
    if (r.logTail.join('').trim()) expect(signal.reason.endsWith(lastLine)).toBe(true);
    else expect(signal.reason.endsWith('last lines of /var/log/portside-bootstrap.log: ')).toBe(true);
    const step = r.steps.findIndex((s) => s.name === name);
    expect(r.steps[step].reached).toBe(true);
    expect(r.steps.slice(step + 1).filter((s) => s.source === r.steps[step].source && s.reached)).toEqual([]);
    expect(r.runningAfterTeardown).toBe(0);
  });

  test('a declared update whose first metadata fetch fails writes the same declared files as a clean one', () => {
    expect(clean.declared).toEqual(clean.expectedDeclared);
    expect(updateWithFailure.declared).toEqual(clean.declared);
    expect(updateWithFailure.logTail.join('\n')).toMatch(/attempt 1 of 7 failed, again in 5s: .*cfn-get-metadata/);
    expect(updateWithFailure.backoffSkippedSeconds).toBe(5);
    expect(JSON.parse(clean.declared['declared.json']!).services).toEqual(expect.objectContaining({ rehearsed: expect.any(Number) }));
  });

  test('cfn-hup runs as its timer starts it: the oneshot service exits every time, applies a change once, Caddy stays up', () => {
    for (const r of [clean, updateWithFailure]) {
      expect(r.cfnHup.map((h) => [h.run, h.exit, h.activeAfter])).toEqual([[1, 0, false], [2, 0, false], [3, 0, false]]);
      expect(r.cfnHup.map((h) => h.hooksRun)).toEqual([[], [{ hook: 'portside-declared', exit: 0 }], []]);
      expect(Math.max(...r.cfnHup.map((h) => h.seconds))).toBeLessThan(10);
      expect(r.caddyUpAfterUpdates).toBe(true);
    }
  });
});
