/**
 * The last lines of a deploy, against the shared local server: after a restart of the same files and
 * after re-registering a removed service they say what happened (started, routes changed), never
 * "nothing to build, send or restart".
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../support/cli';
import { ensureLocalServer, localServerUnavailable } from '../support/local-server';

const why = localServerUnavailable();
const describeE2E = why ? describe.skip : describe;
if (why) console.warn(`e2e deploy-summary tests skipped: ${why}`);

const NAME = 'summary-app';
const work = mkdtempSync(join(tmpdir(), 'portside-summary-'));
const deploy = (dir: string) => cli('deploy-service', NAME, '--dir', dir, '--target', 'local');

describeE2E('the deploy summary says what happened', () => {
  let app: string;
  beforeAll(async () => {
    await ensureLocalServer();
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    app = join(work, 'app');
    cpSync(join(__dirname, '..', '..', 'assets', 'samples', 'simon'), app, { recursive: true });
    writeFileSync(join(app, 'index.js'), readFileSync(join(app, 'index.js'), 'utf8').replace('Simon says hello', 'summary says hello'));
  }, 120_000);
  afterAll(async () => {
    await cli('remove-service', NAME, '--purge', '--target', 'local');
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test('first deploy, then the same files: started with files sent, then up to date with nothing sent or restarted', async () => {
    const first = await deploy(app);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^ {2}nothing to build; sent \d+ files? \([^)]+\); started release \S+ \(no release was running\); routes changed \(Caddy reloaded\)$/m);
    const again = await deploy(app);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^summary-app is up to date on port \d+: nothing to build; the same files were already live, so nothing was sent or restarted/);
  }, 120_000);

  test('re-registering a removed service with the same files: nothing sent, but started again and routed', async () => {
    expect((await deploy(app)).code).toBe(0);
    const removed = await cli('remove-service', NAME, '--target', 'local');
    expect(removed).toExitWith(0);
    const back = await deploy(app);
    expect(back.err).not.toMatch(/portside deploy-service:/);
    expect(back.code).toBe(0);
    expect(back.out).not.toMatch(/up to date|nothing to build, send or restart/);
    expect(back.out).toMatch(/^ {2}nothing to build; sent nothing \(the files were already on the server\); restarted on release \S+ \(was \S+\); routes changed \(Caddy reloaded\)$/m);
  }, 120_000);
});
