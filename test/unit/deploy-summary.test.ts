/** The last lines of a deploy say what happened: built or not, files sent, started or not, routes changed or not. */
import { DeployOutcome } from '../../lib/deploy/deploy-service';
import { deploySummary } from '../../lib/deploy/deploy-summary';

const base: DeployOutcome = {
  name: 'simon', port: 3000, url: 'https://simon.example.click/', release: 'R2', previous: 'R1', unchanged: false, dryRun: false,
  filesSent: 3, bytesSent: 1234, build: 'none', timings: { upload: 100, switch: 300, total: 1500 }, routesChanged: false,
};

test('nothing changed and nothing built: up to date, nothing sent or restarted', () => {
  expect(deploySummary({ ...base, unchanged: true, filesSent: 0, bytesSent: 0, release: 'R1', previous: null, timings: { total: 400 } }))
    .toBe('simon is up to date on port 3000: nothing to build; the same files were already live, so nothing was sent or restarted (0.40s). https://simon.example.click/');
});

test('an 8 s build that produced the same files says it built, then that nothing was sent or restarted', () => {
  const text = deploySummary({ ...base, unchanged: true, filesSent: 0, bytesSent: 0, build: 'built', timings: { build: 8120, total: 8900 } });
  expect(text).toMatch(/^simon is up to date on port 3000: built the front end \(8\.12s\); the same files were already live, so nothing was sent or restarted/);
  expect(text).not.toMatch(/nothing to build/);
});

test('same files but the process was stopped: nothing sent, yet the service was restarted', () => {
  const text = deploySummary({ ...base, filesSent: 0, bytesSent: 0, release: 'R2', previous: 'R1' });
  expect(text.split('\n')[1]).toBe('  nothing to build; sent nothing (the files were already on the server); restarted on release R2 (was R1); routes unchanged');
  expect(text).not.toMatch(/up to date|nothing to build, send or restart/);
});

test('a removed service deployed again: routes changed and it was started', () => {
  const text = deploySummary({ ...base, filesSent: 0, bytesSent: 0, routesChanged: true });
  expect(text.split('\n')[1]).toMatch(/sent nothing .*; restarted on release R2 \(was R1\); routes changed \(Caddy reloaded\)$/);
});

test('a new service: files sent, first release started, routes changed, step timings', () => {
  expect(deploySummary({ ...base, previous: null, build: 'skipped', routesChanged: true, filesSent: 1, bytesSent: 932 })).toBe([
    'deployed simon (release R2) on port 3000: https://simon.example.click/',
    '  front-end build skipped (its inputs are unchanged); sent 1 file (932 B); started release R2 (no release was running); routes changed (Caddy reloaded)',
    '  upload 0.10s, switch 0.30s; total 1.50s',
  ].join('\n'));
});
