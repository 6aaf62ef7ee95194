import { adoptedApp, adoptedRegistry, applyRefusal, caddyfileWith, planAdoption, topLevel } from '../../lib/adopt';
import { adoptedWww, scriptOf } from '../../lib/adopt/adopted';
import { appConfig } from '../../lib/agent/procs';
import { courseFacts, pm2Process, socket, CADDY_SOCKETS } from '../support/course-facts';

const plan = () => planAdoption(courseFacts());

test('the adopted registry keeps the plan\'s services and ports, the blocks it cannot write, and every per-site directive', () => {
  const p = plan();
  const r = adoptedRegistry(p);
  expect(r.services).toEqual(p.registry.services);
  expect(r.paths).toEqual({ www: `${p.staticSite!.root}/.portside-www`, caddyfile: '/home/ubuntu/.portside/caddy/Caddyfile' });
  for (const s of p.services) expect(r.kept?.services?.[s.name] ?? []).toEqual(s.directives.kept.map((d) => d.text));
  expect(r.kept?.site).toEqual(p.staticSite!.directives.kept.map((d) => d.text));
});

test('global options: only what Portside\'s own block does not already write is kept', () => {
  const r = adoptedRegistry(plan());
  expect(r.kept?.global).toEqual(['email student@example.com']);
});

test('topLevel keeps a nested block with its directive and skips comments and blank lines', () => {
  expect(topLevel('\n\t# a comment\n\tlocal_certs\n\tservers {\n\t\tprotocols h1\n\t}\n\n\tadmin off\n')).toEqual(['local_certs', 'servers {\n\t\tprotocols h1\n\t}', 'admin off']);
});

test('the hand-over stand-in keeps the student\'s arguments with the port replaced, and PORT set', () => {
  const s = plan().services.find((x) => x.name === 'simon')!;
  const app = adoptedApp('/home/ubuntu', s, 50123, 'portside-handover-simon');
  expect(app).toMatchObject({ name: 'portside-handover-simon', args: ['50123', 'simon'], env: { PORT: '50123' }, cwd: '/home/ubuntu/services/simon/current', script: '/home/ubuntu/services/simon/current/index.js' });
  expect(adoptedApp('/home/ubuntu', s, s.port)).toMatchObject({ name: 'simon', args: ['3000', 'simon'], exec_mode: 'cluster', node_args: ['--require', '/home/ubuntu/.portside/bin/preload.js'] });
  expect(scriptOf(s)).toBe('index.js');
});

test('the hand-over Caddyfile sends only the named services to their stand-ins', () => {
  const r = adoptedRegistry(plan());
  const text = caddyfileWith(r, { simon: 50123 });
  expect(text).toContain('reverse_proxy 127.0.0.1:50123');
  expect(text).toContain('reverse_proxy 127.0.0.1:4000');
  expect(text).not.toContain('reverse_proxy 127.0.0.1:3000');
});

test('a plan with a port that Caddy and pm2 disagree on is not applied; an exposed port is', () => {
  const mismatch = planAdoption(courseFacts({ caddyfile: courseFacts().caddy.text!.toString().replace('localhost:4000', 'localhost:4001') }));
  expect(applyRefusal(mismatch)).toMatch(/^the plan has problems to fix first: .*4001/);
  const exposed = planAdoption(courseFacts({ sockets: [...CADDY_SOCKETS, socket(3000, 101, '0.0.0.0'), socket(4000, 102)], processes: [pm2Process('simon', 3000, 101), pm2Process('startup', 4000, 102)] }));
  expect(exposed.problems.map((p) => p.kind)).toContain('exposed-port');
  expect(applyRefusal(exposed)).toBeNull();
});

test('Portside\'s files go in the plan\'s portsideRoot; a plan recorded before it existed keeps its old place (its undo removes what it made)', () => {
  expect(adoptedWww({ ...plan(), staticSite: null, portsideRoot: '/usr/share/caddy' })).toBe('/usr/share/caddy/.portside-www');
  expect(adoptedWww({ ...plan(), staticSite: null, portsideRoot: undefined })).toBe('/home/ubuntu/.portside/www');
  expect(() => adoptedWww({ ...plan(), portsideRoot: null })).toThrow(/no folder Caddy's user can read/);
});

test('an adopted service\'s pm2 definition is the agent\'s, key for key and in the same order (a later deploy reloads it), apart from the student\'s arguments', () => {
  const s = plan().services.find((x) => x.name === 'simon')!;
  const adopted = adoptedApp('/home/ubuntu', s, s.port);
  const agents = appConfig('simon', '/home/ubuntu/services/simon', { script: 'index.js' }, s.port);
  expect(Object.keys(adopted)).toEqual(Object.keys(agents));
  expect({ ...adopted, args: agents.args, node_args: agents.node_args }).toEqual(agents);
});
