/**
 * A fleet server whose cloud-init has not finished is booting: the rollout leaves it to its boot. The
 * check's shell command runs for real here (sh and test, against a temporary cloud-init folder laid out as
 * cloud-init lays out /var/lib/cloud); only the SSH transport is replaced by running the argv locally.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cloudInitUnfinished, cloudInitUnfinishedCommand, CLOUD_INIT_DIR } from '../../lib/fleet/booting';

/** An `exec` that runs the argv on this machine, as the server's shell would. */
const local = {
  exec: (argv: readonly string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(argv[0], argv.slice(1), (err, stdout, stderr) => resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: unknown }).code) || 1 : 0, stdout, stderr }));
  }),
} as unknown as Parameters<typeof cloudInitUnfinished>[0];

describe('cloud-init unfinished: booting', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portside-cloud-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a machine without cloud-init (no instance folder) is not booting', async () => {
    expect(await cloudInitUnfinished(local, dir)).toBe(false);
  });

  test('an instance whose boot-finished is not written yet is booting; once written, not', async () => {
    mkdirSync(join(dir, 'instances', 'i-0abc'), { recursive: true });
    symlinkSync(join(dir, 'instances', 'i-0abc'), join(dir, 'instance'));
    expect(await cloudInitUnfinished(local, dir)).toBe(true);
    writeFileSync(join(dir, 'instances', 'i-0abc', 'boot-finished'), '42.1 - Mon, 30 Nov 2026 20:00:00 +0000 - v. 24.4\n');
    expect(await cloudInitUnfinished(local, dir)).toBe(false);
  });

  test('a new instance from an image of a finished one: its own folder counts, not the old one\'s', async () => {
    mkdirSync(join(dir, 'instances', 'i-old'), { recursive: true });
    writeFileSync(join(dir, 'instances', 'i-old', 'boot-finished'), 'old\n');
    mkdirSync(join(dir, 'instances', 'i-new'), { recursive: true });
    symlinkSync(join(dir, 'instances', 'i-new'), join(dir, 'instance'));
    expect(await cloudInitUnfinished(local, dir)).toBe(true);
  });

  test('a server that cannot be asked counts as not booting (the deploy there says what is wrong)', async () => {
    const broken = { exec: () => Promise.reject(new Error('channel closed')) } as unknown as Parameters<typeof cloudInitUnfinished>[0];
    expect(await cloudInitUnfinished(broken, dir)).toBe(false);
  });

  test('the command on a server is a constant: Ubuntu\'s folder, nothing else', () => {
    expect(CLOUD_INIT_DIR).toBe('/var/lib/cloud');
    expect(cloudInitUnfinishedCommand()).toBe('test -d /var/lib/cloud/instance && test ! -e /var/lib/cloud/instance/boot-finished');
  });
});
