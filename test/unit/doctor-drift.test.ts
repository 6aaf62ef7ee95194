/**
 * The drift family (lib/doctor/checks/drift.ts): the registry against the Caddyfile, pm2's processes
 * and the services' folders. Facts in, checks out; no server. (The registry-loss fixes are in
 * doctor-registry-fix.test.ts.)
 */
import { renderCaddyfile } from '../../lib/caddy';
import { driftFamily } from '../../lib/doctor/checks/drift';
import type { Pm2Process } from '../../lib/doctor';
import { byId, healthy, registry, run, statuses } from '../support/doctor-facts';

const pm2 = (): Pm2Process[] => healthy().pm2 as Pm2Process[];
const simon = (over: Partial<Pm2Process>): Pm2Process[] => pm2().map((p) => (p.name === 'simon' ? { ...p, ...over } : p));
const drift = (over: Partial<ReturnType<typeof healthy>>) => run(driftFamily, { ...healthy(), ...over });

describe('drift: the Caddyfile', () => {
  test('a healthy server: the Caddyfile is the registry\'s, and each service is online', () => {
    expect(statuses(run(driftFamily, healthy()))).toEqual({ 'drift.caddyfile': 'pass', 'drift.online.simon': 'pass', 'drift.online.startup': 'pass' });
  });

  test('the declared configuration is not this family\'s: no drift.declared line', () => {
    expect(run(driftFamily, { ...healthy(), declared: { error: 'bad' } }).filter((r) => r.id.startsWith('drift.declared'))).toEqual([]);
  });

  test('a missing Caddyfile fails and says hand edits inside rendered blocks are not kept', () => {
    expect(byId(drift({ caddyfile: null }), 'drift.caddyfile')).toMatchObject({ status: 'fail', message: 'the Caddyfile named in the registry does not exist', fix: expect.stringContaining('hand edits are not kept') });
  });

  test('a Caddyfile cut short names the end of the file as what was found', () => {
    const caddyfile = renderCaddyfile(registry).split('\n').slice(0, 3).join('\n');
    expect(byId(drift({ caddyfile }), 'drift.caddyfile')?.message).toMatch(/^the Caddyfile differs from what the registry renders, first at line 4: expected ".*", found the end of the file$/);
  });
});

describe('drift: pm2 against the registry', () => {
  test('pm2 unreadable: one failure after the Caddyfile, and no per-service lines', () => {
    expect(drift({ pm2: { error: 'boom' } })).toEqual([
      expect.objectContaining({ id: 'drift.caddyfile', status: 'pass' }),
      { id: 'drift.pm2', status: 'fail', message: 'could not read pm2\'s process list: boom', fix: 'check that pm2 is installed and its daemon runs as the deploy user (pm2 ls)' },
    ]);
  });

  test('a process with no port is on the wrong port, with the redeploy that puts it back', () => {
    expect(byId(drift({ pm2: simon({ port: null }) }), 'drift.port.simon')).toEqual({
      id: 'drift.port.simon', status: 'fail', message: 'service "simon" is registered on port 3000, but pm2 runs it on no port: Caddy proxies to the wrong place',
      fix: 'redeploy it on its registered port: portside deploy-service simon 3000 --force',
    });
  });

  test('an errored process and one without the preload: both named, each with its fix', () => {
    const r = drift({ pm2: simon({ status: 'errored', preload: false }) });
    expect(byId(r, 'drift.stopped.simon')?.message).toBe('service "simon" is errored under pm2: its URL answers 502');
    expect(byId(r, 'drift.preload.simon')?.fix).toBe('redeploy it (pm2 then starts it with the preload): portside deploy-service simon --force');
  });

  test('a lost process names the pm2 file in the service\'s folder to start it from', () => {
    expect(byId(drift({ pm2: pm2().slice(1) }), 'drift.process.simon')?.fix)
      .toBe('start it again on the server: pm2 start ~/services/simon/pm2.json && pm2 save (or portside deploy-service simon --force)');
  });

  test('a pm2 process the registry does not route to: its status, and its port when it has one', () => {
    const r = drift({ pm2: [...pm2(), { name: 'x', status: 'errored', port: null, pid: null, execMode: 'fork_mode', preload: false }] });
    expect(byId(r, 'drift.unrouted.x')).toEqual({
      id: 'drift.unrouted.x', status: 'warn', message: 'pm2 runs "x" (errored), which the registry does not route to',
      fix: 'deploy it so it gets a route (portside deploy-service x), or stop it on the server: pm2 delete x && pm2 save',
    });
  });

  test('a folder kept from a removed service is a note naming its release', () => {
    const r = drift({ folders: [...healthy().folders, { name: 'old', release: null, healthPath: '/' }, { name: 'old2', release: 'r9', healthPath: '/' }] });
    expect(r.filter((x) => x.id.startsWith('drift.leftover')).map((x) => [x.status, x.message])).toEqual([
      ['info', '~/services/old is kept from a removed service (release none)'],
      ['info', '~/services/old2 is kept from a removed service (release r9)'],
    ]);
  });

  test('services are reported in name order, each one\'s lines together', () => {
    const r = drift({ pm2: simon({ port: 3001, preload: false }).reverse() });
    expect(r.map((x) => x.id)).toEqual(['drift.caddyfile', 'drift.online.simon', 'drift.port.simon', 'drift.preload.simon', 'drift.online.startup']);
  });
});
