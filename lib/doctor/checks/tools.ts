import { CheckResult, DoctorFacts } from '../types';
import type { CheckFamily } from './family';

/** The tools a deploy runs, as a non-interactive SSH session finds them (no ~/.bashrc PATH). */
export function toolChecks(f: DoctorFacts): CheckResult[] {
  return (['node', 'npm', 'pm2'] as const).map((tool): CheckResult => {
    const path = f.tools[tool];
    return path
      ? { id: `capacity.tool.${tool}`, status: 'pass', message: `${tool} resolves to ${path} in a non-interactive SSH session` }
      : { id: `capacity.tool.${tool}`, status: 'fail', message: `${tool} is not on the PATH of a non-interactive SSH session`,
        fix: tool === 'pm2' ? 'install it for every user: sudo npm install -g pm2' : 'install Node.js system-wide (the bootstrap installs it under /usr/bin); a PATH set in ~/.bashrc is not read by non-interactive sessions' };
  });
}

export const toolsFamily: CheckFamily = {
  name: 'tools', idPrefix: 'capacity.tool.', run: toolChecks,
  looksAt: 'node, npm and pm2 on the PATH of a non-interactive SSH session (what a deploy runs in)',
};
