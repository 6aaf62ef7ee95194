/**
 * rollback against the shared local server: plain rollback says where it goes and that a second one
 * returns; --to goes to any release the server keeps (checked, the list shown when wrong); --dry-run
 * changes nothing.
 */
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { currentLink } from '../../lib/remote/layout';
import { cli } from '../support/cli';
import { sampleAppSaying } from '../support/sample-app';
import { ensureLocalServer, LocalServer, localServerUnavailable } from '../support/local-server';
import { serviceUrl, userHome, viaCaddy } from '../support/server-state';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e rollback tests skipped: ${why}`);

const NAME = 'rollback-app';
const work = mkdtempSync(join(tmpdir(), 'portside-rollback-'));
const T = ['--target', 'local'];

const appSaying = sampleAppSaying(work);

describeE2E('rollback: where it goes, --to and --dry-run', () => {
  let server: LocalServer;
  const ids: string[] = [];
  const current = () => basename(readlinkSync(join(userHome(server), currentLink(NAME))));
  const page = async () => (await viaCaddy(server, serviceUrl(server, NAME))).body;

  beforeAll(async () => {
    server = await ensureLocalServer();
    await cli('remove-service', NAME, '--purge', ...T);
    for (const v of ['v-one', 'v-two', 'v-three']) {
      const r = await cli('deploy-service', NAME, '--dir', appSaying(`rollback ${v}`), ...T);
      expect(r).toExitWith(0);
      ids.push(current());
    }
  }, 180_000);
  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', ...T);
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('--dry-run names the release it would go to and the others, and changes nothing', async () => {
    const r = await cli('rollback', NAME, '--dry-run', ...T);
    expect(r).toExitWith(0);
    expect(r.out).toBe(`rollback ${NAME} (dry run: nothing changed) would go from ${ids[2]} to ${ids[1]} on port ${r.out.match(/on port (\d+)/)![1]}; `
      + `to go elsewhere: portside rollback ${NAME} --to RELEASE (on the server, newest first: ${ids[0]})`);
    expect(current()).toBe(ids[2]);
  }, 60_000);

  test('plain rollback says where it went and that a second one returns; the second one does', async () => {
    const first = await cli('rollback', NAME, ...T);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(new RegExp(`^rolled ${NAME} back from ${ids[2]} to ${ids[1]} on port \\d+\\n  a second \`portside rollback ${NAME}\` returns to ${ids[2]}; to go elsewhere: portside rollback ${NAME} --to RELEASE \\(on the server, newest first: ${ids[0]}\\)$`));
    expect(await page()).toContain('rollback v-two');
    const second = await cli('rollback', NAME, ...T);
    expect(second.code).toBe(0);
    expect(current()).toBe(ids[2]);
    expect(await page()).toContain('rollback v-three');
  }, 60_000);

  test('--to goes to an older release', async () => {
    const r = await cli('rollback', NAME, '--to', ids[0], ...T);
    expect(r.err).not.toMatch(/portside rollback:/);
    expect(r).toExitWith(0);
    expect(current()).toBe(ids[0]);
    expect(await page()).toContain('rollback v-one');
  }, 60_000);

  test('--to a release the server does not have is refused with the list; nothing changes', async () => {
    const before = current();
    const r = await cli('rollback', NAME, '--to', '20200101T000000Z-dead', ...T);
    expect(r).toExitWith(1);
    expect(r.err).toMatch(/^portside rollback: "rollback-app" has no release "20200101T000000Z-dead" on this server\nReleases on the server \(newest first\): \S+ \(/);
    for (const id of ids.filter((i) => i !== before)) expect(r.err).toContain(id);
    expect(current()).toBe(before);
  }, 60_000);

  test('--to the current release, and --to a path, are refused', async () => {
    const same = await cli('rollback', NAME, '--to', current(), ...T);
    expect(same.code).toBe(1);
    expect(same.err).toMatch(/is already rollback-app's current release: nothing to roll back to/);
    const path = await cli('rollback', NAME, '--to', '../../.ssh', ...T);
    expect(path.code).toBe(2); // a wrong command line (#11): refused before connecting
    expect(path.err).toMatch(/^portside rollback: --to "..\/..\/.ssh" is not a release id/);
  }, 60_000);
});
