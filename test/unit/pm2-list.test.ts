// pm2's process list, read in one place (lib/remote/pm2-list.ts) by the agent, doctor and the tests.
import { parsePm2Jlist, pm2Port } from '../../lib/remote/pm2-list';

const LIST = [{ name: 'simon', pid: 41, pm2_env: { status: 'online', env: { PORT: '3000' } } }];

describe('parsePm2Jlist', () => {
  test('the list is the last line that parses, after the daemon\'s start-up lines', () => {
    const out = `[PM2] Spawning PM2 daemon with pm2_home=/home/p/.pm2\n[PM2] PM2 Successfully daemonized\n${JSON.stringify(LIST)}\n`;
    expect(parsePm2Jlist(out)).toEqual(LIST);
  });

  test('a log line that starts with "[" but is not JSON is skipped', () => {
    expect(parsePm2Jlist(`${JSON.stringify(LIST)}\n[PM2][WARN] something\n`)).toEqual(LIST);
  });

  test('no list at all: an empty list, not an error', () => {
    expect(parsePm2Jlist('')).toEqual([]);
    expect(parsePm2Jlist('[PM2] nothing\n')).toEqual([]);
  });
});

describe('pm2Port', () => {
  test.each<[string, Parameters<typeof pm2Port>[0], number | null]>([
    ['from the app\'s env', LIST[0], 3000],
    ['from pm2_env itself (fork mode)', { name: 'a', pm2_env: { PORT: 4000 } }, 4000],
    ['the app\'s env wins', { name: 'a', pm2_env: { PORT: '1', env: { PORT: '4001' } } }, 4001],
    ['none', { name: 'a', pm2_env: {} }, null],
    ['no pm2_env', { name: 'a' }, null],
    ['not a number', { name: 'a', pm2_env: { env: { PORT: 'x' } } }, null],
    ['no process', null, null],
  ])('%s', (_title, p, port) => {
    expect(pm2Port(p)).toBe(port);
  });
});
