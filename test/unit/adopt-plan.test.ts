/**
 * adopt's planner is pure: server facts in, plan out. The Caddyfiles are adapted by the real Caddy,
 * so the planner reads what Caddy really makes of them. A valid course server first, then one
 * student mistake per test, asserting the problem named and what the plan does with it.
 */
import { formatPlan, planAdoption, Problem } from '../../lib/adopt';
import { courseShape } from '../../lib/targets/course/layout';
import { CADDY_SOCKETS, courseFacts, pm2Process, socket } from '../support/course-facts';

const COURSE = courseShape('course').caddyfile;
const kinds = (problems: readonly Problem[]) => problems.map((p) => p.kind);

describe('a course server as the course builds it', () => {
  const plan = planAdoption(courseFacts());

  test('has each service with its real port, folder, pm2 process and host name, and no problem', () => {
    expect(plan.problems).toEqual([]);
    expect(plan.services.map((s) => [s.name, s.port, s.portFrom, s.folder, s.hostnames])).toEqual([
      ['simon', 3000, 'socket', '/home/ubuntu/services/simon', ['simon.course.test']],
      ['startup', 4000, 'socket', '/home/ubuntu/services/startup', ['startup.course.test']],
    ]);
    expect(plan.services[0].process).toEqual({ pmId: 1, pid: 101, status: 'online', execMode: 'fork', script: '/home/ubuntu/services/simon/index.js', args: ['3000', 'simon'] });
  });

  test('splits each site\'s directives into what Portside writes and what it keeps verbatim', () => {
    const startup = plan.services.find((s) => s.name === 'startup')!;
    expect(startup.site).toBe('startup.course.test');
    expect(startup.directives.portside.map((d) => d.text)).toEqual(['reverse_proxy * localhost:4000', 'header -server']);
    expect(startup.directives.kept.map((d) => d.text)).toEqual(['header Cache-Control no-store', 'header -etag', 'header Access-Control-Allow-Origin *']);
  });

  test('finds the static site, the domain, and keeps the global options verbatim', () => {
    expect(plan.staticSite).toMatchObject({ hosts: ['course.test'], root: '/usr/share/caddy', publicHtml: '/usr/share/caddy', site: 'course.test' });
    expect(plan.staticSite!.directives.portside.map((d) => d.name)).toEqual(['root', 'file_server', 'header']);
    expect(plan.domain).toBe('course.test');
    expect(plan.keep.globalOptions).toContain('local_certs');
    expect(plan.keep.blocks).toEqual([]);
  });

  test('proposes the registry: subdomain routing on the domain, every service at its port, the email, internal TLS for local_certs', () => {
    expect(plan.registry).toEqual({ domain: 'course.test', email: 'student@example.com', routing: 'subdomain', tls: 'internal', services: { simon: 3000, startup: 4000 } });
  });

  test('records what it was made from (the Caddyfile\'s sha256, pm2\'s names and pids), for applying to refuse a stale plan', () => {
    const { createHash } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    expect(plan.basis).toEqual({ caddyfile: '/etc/caddy/Caddyfile', caddyfileSha256: createHash('sha256').update(COURSE).digest('hex'), pm2: [{ name: 'simon', pid: 101 }, { name: 'startup', pid: 102 }] });
  });

  test('notes Node off the PATH, fork mode, and the WebSocket reconnects (one per Caddy reload)', () => {
    expect(plan.notes.join('\n')).toMatch(/does not find node on its PATH/);
    expect(plan.notes.join('\n')).toMatch(/fork mode/);
    expect(plan.notes.join('\n')).toMatch(/WebSocket open through Caddy \(to any site\) is closed twice/);
  });
});

describe('each mistake a student makes is named, with its fix', () => {
  test('a site routing to a port nothing listens on: route-to-nothing, and the site is kept verbatim', () => {
    const plan = planAdoption(courseFacts({ caddyfile: `${COURSE}\nold.course.test {\n\treverse_proxy * localhost:5000\n}\n` }));
    expect(kinds(plan.problems)).toEqual(['route-to-nothing']);
    expect(plan.problems[0]).toMatchObject({ host: 'old.course.test', port: 5000, message: 'old.course.test proxies to localhost:5000, where nothing listens: every request there gets 502' });
    expect(plan.keep.blocks.map((b) => b.key)).toEqual(['old.course.test']);
  });

  test('a pm2 process no site reaches: unrouted-process, and adopting would give it <name>.<domain>', () => {
    const processes = [pm2Process('simon', 3000, 101), pm2Process('startup', 4000, 102), pm2Process('worker', 5100, 103)];
    const plan = planAdoption(courseFacts({ processes }));
    expect(kinds(plan.problems)).toEqual(['unrouted-process']);
    expect(plan.problems[0]).toMatchObject({ service: 'worker', port: 5100 });
    expect(plan.problems[0].fix).toMatch(/gives it the route worker\.course\.test/);
    expect(plan.services.find((s) => s.name === 'worker')).toMatchObject({ port: 5100, hostnames: [], site: null });
  });

  test('Caddy and pm2 disagreeing on a port: port-mismatch (not also a route to nothing), the service keeps the port it listens on and its name', () => {
    const plan = planAdoption(courseFacts({ caddyfile: COURSE.replace('localhost:4000', 'localhost:4001') }));
    expect(kinds(plan.problems)).toEqual(['port-mismatch']);
    expect(plan.problems[0].message).toBe('Caddy sends startup.course.test to localhost:4001, but pm2\'s "startup" listens on 4000');
    expect(plan.services.find((s) => s.name === 'startup')).toMatchObject({ port: 4000, hostnames: ['startup.course.test'], site: 'startup.course.test' });
    expect(plan.registry.services).toEqual({ simon: 3000, startup: 4000 });
  });

  test('a site written twice (https://simon… after simon…, which Caddy accepts): duplicate-site, the second block is never reached', () => {
    const plan = planAdoption(courseFacts({ caddyfile: `${COURSE}\nhttps://simon.course.test {\n\treverse_proxy * localhost:3001\n}\n` }));
    expect(kinds(plan.problems)).toEqual(['duplicate-site']);
    expect(plan.problems[0].message).toMatch(/^simon\.course\.test is defined by more than one block; .* "https:\/\/simon\.course\.test" \(→ localhost:3001\) is never reached$/);
    expect(plan.services.find((s) => s.name === 'simon')).toMatchObject({ port: 3000, site: 'simon.course.test' });
    expect(plan.keep.blocks).toEqual([expect.objectContaining({ key: 'https://simon.course.test', why: expect.stringMatching(/never reached/) })]);
  });

  test.each(['0.0.0.0', '*', '::', '10.0.0.5'])('a service bound on %s: exposed-port', (address) => {
    const processes = [pm2Process('simon', 3000, 101), pm2Process('startup', 4000, 102)];
    const plan = planAdoption(courseFacts({ processes, sockets: [...CADDY_SOCKETS, socket(3000, 101, address), socket(4000, 102)] }));
    expect(kinds(plan.problems)).toEqual(['exposed-port']);
    expect(plan.problems[0]).toMatchObject({ service: 'simon', port: 3000 });
    expect(plan.problems[0].message).toContain(`${address}:3000`);
  });

  test.each<['open' | 'filtered' | 'refused', RegExp]>([
    ['open', /; a connection from here to port 3000 was accepted$/],
    ['filtered', /; from here port 3000 is filtered \(a firewall or security group stops it for now\)$/],
  ])('exposed-port says what a connection from here saw: %s', (outcome, said) => {
    const facts = courseFacts({ sockets: [...CADDY_SOCKETS, socket(3000, 101, '0.0.0.0'), socket(4000, 102)] });
    const plan = planAdoption({ ...facts, outside: [{ port: 3000, outcome }] });
    expect(plan.problems[0]).toMatchObject({ kind: 'exposed-port', outside: outcome, message: expect.stringMatching(said) });
  });

  test('loopback in IPv6 (::1) is not exposed', () => {
    const plan = planAdoption(courseFacts({ sockets: [...CADDY_SOCKETS, socket(3000, 101, '::1'), socket(4000, 102)] }));
    expect(plan.problems).toEqual([]);
  });

  test('a stopped process: process-not-online, its port read from its arguments', () => {
    const processes = [pm2Process('simon', 3000, 101), pm2Process('startup', 4000, 0, { pid: null, status: 'stopped' })];
    const plan = planAdoption(courseFacts({ processes, sockets: [...CADDY_SOCKETS, socket(3000, 101)] }));
    expect(kinds(plan.problems)).toEqual(['process-not-online']);
    expect(plan.services.find((s) => s.name === 'startup')).toMatchObject({ port: 4000, portFrom: 'args', hostnames: ['startup.course.test'] });
  });

  test('a pm2 name Portside cannot use: invalid-name, left out of the registry', () => {
    const caddyfile = COURSE.replace('simon.course.test', 'My_App.course.test');
    const processes = [pm2Process('My_App', 3000, 101), pm2Process('startup', 4000, 102)];
    const plan = planAdoption(courseFacts({ caddyfile, processes }));
    expect(kinds(plan.problems)).toEqual(['invalid-name']);
    expect(plan.registry.services).toEqual({ startup: 4000 });
  });

  test('a folder in ~/services that pm2 does not run: folder-without-process', () => {
    const plan = planAdoption(courseFacts({ folders: ['simon', 'startup', 'old-startup'] }));
    expect(kinds(plan.problems)).toEqual(['folder-without-process']);
    expect(plan.problems[0].message).toBe('~/services/old-startup has no pm2 process');
  });

  test('a site proxying to a process outside pm2: route-to-unmanaged, kept verbatim', () => {
    const facts = courseFacts({ caddyfile: `${COURSE}\ngrafana.course.test {\n\treverse_proxy localhost:3100\n}\n` });
    const plan = planAdoption({ ...facts, sockets: [...(facts.sockets as never[]), socket(3100, null)] });
    expect(kinds(plan.problems)).toEqual(['route-to-unmanaged']);
    expect(plan.keep.blocks.map((b) => b.key)).toEqual(['grafana.course.test']);
  });

  test('a Caddyfile edited since the last reload: config-not-loaded', () => {
    const running = courseFacts().caddy.adapted;
    const plan = planAdoption(courseFacts({ caddyfile: COURSE.replace('Cache-Control no-store', 'Cache-Control no-cache'), running }));
    expect(kinds(plan.problems)).toEqual(['config-not-loaded']);
  });
});

describe('other shapes of server', () => {
  test('no domain yet (:80) with path routes: path routing, services reached at their paths', () => {
    const caddyfile = [':80 {', '\thandle_path /simon/* {', '\t\treverse_proxy localhost:3000', '\t}', '\thandle {', '\t\troot * /usr/share/caddy', '\t\tfile_server', '\t}', '}', ''].join('\n');
    const plan = planAdoption(courseFacts({ caddyfile, processes: [pm2Process('simon', 3000, 101)] }));
    expect(plan.domain).toBeNull();
    expect(plan.routing).toBe('path');
    expect(plan.services[0]).toMatchObject({ name: 'simon', paths: ['/simon/*'], hostnames: [] });
    expect(plan.problems).toEqual([]);
  });

  test('a port from PORT in the environment when the socket\'s owner is not visible', () => {
    const processes = [pm2Process('simon', 3000, 101, { args: [], envPort: 3000 }), pm2Process('startup', 4000, 102)];
    const plan = planAdoption(courseFacts({ processes, sockets: [...CADDY_SOCKETS, socket(3000, null), socket(4000, 102)] }));
    expect(plan.services[0]).toMatchObject({ port: 3000, portFrom: 'env' });
    expect(plan.problems).toEqual([]);
  });

  test('the planner refuses to plan a server refusalOf refuses', () => {
    const facts = courseFacts();
    expect(() => planAdoption({ ...facts, caddy: { ...facts.caddy, processes: [] } })).toThrow(/cannot plan: Caddy is installed/);
  });
});

describe('the plan as people read it', () => {
  test('a service line, its route, its directives, and each problem with its fix', () => {
    const processes = [pm2Process('simon', 3000, 101), pm2Process('startup', 4000, 102)];
    const facts = courseFacts({ caddyfile: COURSE.replace('localhost:4000', 'localhost:4001'), processes });
    const lines = formatPlan(planAdoption(facts), 'ubuntu@203.0.113.7');
    expect(lines[0]).toBe('Adoption plan for ubuntu@203.0.113.7');
    expect(lines).toContain('  Node    ~/.nvm/versions/node/v20.20.2/bin/node: the pm2 daemon\'s executable (pid 40); not on the PATH of a non-interactive SSH session');
    const at = lines.indexOf('Services (2)');
    expect(lines.slice(at + 5, at + 9)).toEqual([
      '  startup  port 4000 on 127.0.0.1  ~/services/startup  pm2 #2 pid 102 online fork',
      '           reached at startup.course.test; runs ~/services/startup/index.js -- 4000 startup',
      '           replaced by Portside\'s own: reverse_proxy * localhost:4001; header -server',
      '           kept on its site: header Cache-Control no-store; header -etag; header Access-Control-Allow-Origin *',
    ]);
    const problems = lines.indexOf('Problems (1)');
    expect(lines.slice(problems + 1, problems + 3)).toEqual([
      '  port-mismatch: Caddy sends startup.course.test to localhost:4001, but pm2\'s "startup" listens on 4000',
      '      fix: adopting routes startup.course.test to 4000, where "startup" answers; if localhost:4001 was meant, restart "startup" there first (pm2 delete startup, then pm2 start index.js -n startup -- <port>)',
    ]);
    expect(lines.at(-1)).toBe('Portside would record: domain course.test, subdomain routing, TLS internal, services simon=3000 startup=4000');
  });
});
