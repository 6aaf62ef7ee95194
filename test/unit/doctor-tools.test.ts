/**
 * The tools family (lib/doctor/checks/tools.ts): node, npm and pm2 as a non-interactive SSH session
 * finds them, which is what a deploy runs in. Facts in, checks out; no server.
 */
import { toolsFamily } from '../../lib/doctor/checks/tools';
import { healthy, run } from '../support/doctor-facts';

describe('tools', () => {
  test('all three found: a pass each naming the path', () => {
    expect(run(toolsFamily, healthy())).toEqual([
      { id: 'capacity.tool.node', status: 'pass', message: 'node resolves to /usr/bin/node in a non-interactive SSH session' },
      { id: 'capacity.tool.npm', status: 'pass', message: 'npm resolves to /usr/bin/npm in a non-interactive SSH session' },
      { id: 'capacity.tool.pm2', status: 'pass', message: 'pm2 resolves to /usr/bin/pm2 in a non-interactive SSH session' },
    ]);
  });

  test('node missing (installed under nvm, say): the fix says ~/.bashrc is not read', () => {
    const [node] = run(toolsFamily, { ...healthy(), tools: { node: null, npm: '/usr/bin/npm', pm2: '/usr/bin/pm2' } });
    expect(node).toEqual({
      id: 'capacity.tool.node', status: 'fail', message: 'node is not on the PATH of a non-interactive SSH session',
      fix: 'install Node.js system-wide (the bootstrap installs it under /usr/bin); a PATH set in ~/.bashrc is not read by non-interactive sessions',
    });
  });

  test('pm2 missing: install it for every user', () => {
    const r = run(toolsFamily, { ...healthy(), tools: { node: '/usr/bin/node', npm: '/usr/bin/npm', pm2: null } });
    expect(r.map((x) => x.status)).toEqual(['pass', 'pass', 'fail']);
    expect(r[2].fix).toBe('install it for every user: sudo npm install -g pm2');
  });
});
