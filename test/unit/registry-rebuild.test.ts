/**
 * The pure rebuild of a lost registry (lib/agent/registry-rebuild.ts): from the saved versions,
 * the live Caddyfile (as Portside renders it), release manifests and pm2 — never dropping a service
 * that runs.
 */
import { renderCaddyfile } from '../../lib/caddy';
import { parseRegistry, Registry, renderRegistry } from '../../lib/registry';
import { parseRegistryText, readCaddyfile, rebuildRegistry, renderRegistry as renderAgent } from '../../lib/agent/registry-rebuild';

const PATHS = { www: '/var/lib/portside-local/www', caddyfile: '/var/lib/portside-local/etc/Caddyfile' };
const LIVE: Registry = {
  version: 1, domain: 'portside.test', routing: 'subdomain', tls: 'internal',
  services: { simon: 3000, startup: 4000, 'extra-a': 3001, 'extra-b': 3002 }, paths: PATHS,
};
const DECLARED: Registry = { ...LIVE, services: { simon: 3000, startup: 4000 } };
const running = (services: Record<string, number>) => Object.entries(services).map(([name, port]) => ({ name, status: 'online', port }));
const released = (services: Record<string, number>) => Object.entries(services).map(([name, port]) => ({ name, release: `r-${name}`, port }));
const facts = (over: Record<string, unknown> = {}) => ({
  history: [], caddyfile: { path: PATHS.caddyfile, text: renderCaddyfile(LIVE) },
  releases: released(LIVE.services), processes: running(LIVE.services), declared: DECLARED, ...over,
});

describe('rebuildRegistry', () => {
  test('from the live Caddyfile alone, gives back exactly the registry it was rendered from', () => {
    const { registry, sources } = rebuildRegistry(facts({ releases: [], processes: [] }));
    expect(renderRegistry(parseRegistry(renderRegistry(registry)))).toBe(renderRegistry(LIVE));
    expect(sources.join(' ')).toContain(`the live Caddyfile ${PATHS.caddyfile}`);
  });

  test('path routing without a domain round-trips too', () => {
    const reg: Registry = { version: 1, routing: 'path', tls: 'acme', email: 'ops@example.org', services: { a: 3000, b: 3005 }, paths: PATHS };
    const { registry } = rebuildRegistry(facts({ caddyfile: { path: PATHS.caddyfile, text: renderCaddyfile(reg) }, releases: [], processes: [] }));
    expect(registry).toEqual(reg);
  });

  test('the newest saved version that parses wins over the Caddyfile; a corrupt newer one is skipped', () => {
    const saved = { ...LIVE, services: { ...LIVE.services, 'only-saved': 3009 } };
    const { registry, sources } = rebuildRegistry(facts({
      history: [{ file: 'new.json', text: '{ not json' }, { file: 'old.json', text: renderRegistry(saved) }],
    }));
    expect(sources[0]).toBe('the saved version old.json');
    expect(registry.services).toEqual(saved.services);
  });

  test('never the declared defaults over running services: with no history and no Caddyfile, running ones are kept and declared ones added only when free', () => {
    const { registry, notes } = rebuildRegistry(facts({
      caddyfile: null,
      processes: running({ 'extra-a': 3001, intruder: 4000 }),
      releases: released({ 'extra-a': 3001, intruder: 4000 }),
    }));
    expect(registry.services).toEqual({ 'extra-a': 3001, intruder: 4000, simon: 3000 });
    expect(notes).toContain('declared service "startup" on port 4000 not added: the port is taken by a running service');
  });

  test('pm2\'s port wins over the manifest and the Caddyfile, and the disagreement is named', () => {
    const { registry, notes } = rebuildRegistry(facts({ processes: running({ ...LIVE.services, 'extra-a': 3005 }) }));
    expect(registry.services['extra-a']).toBe(3005);
    expect(notes).toContain('"extra-a": pm2 says port 3005, the Caddyfile says 3001; 3005 kept (pm2 wins)');
  });

  test('a removed service (a release, but no process and no route) stays unrouted', () => {
    const { registry, notes } = rebuildRegistry(facts({ releases: released({ ...LIVE.services, gone: 3007 }) }));
    expect(registry.services.gone).toBeUndefined();
    expect(notes).toContain('~/services/gone has a release but no process and no route (a removed service): left unrouted');
  });

  test('a running service the Caddyfile lost is routed again (release and pm2 agree)', () => {
    const { registry } = rebuildRegistry(facts({ releases: released({ ...LIVE.services, late: 3008 }), processes: running({ ...LIVE.services, late: 3008 }) }));
    expect(registry.services.late).toBe(3008);
  });

  test('two services on one port: the one pm2 runs there keeps it', () => {
    const { registry, notes } = rebuildRegistry(facts({
      caddyfile: null, declared: null, history: [{ file: 'h.json', text: renderRegistry({ ...LIVE, services: { a: 3000, b: 3000 } }) }], releases: [], processes: running({ b: 3000 }),
    }));
    expect(registry.services).toEqual({ b: 3000 });
    expect(notes[0]).toMatch(/"a" and "b" both claim port 3000: "b" kept/);
  });

  test('nothing to rebuild from: a clear error, not a guess', () => {
    expect(() => rebuildRegistry(facts({ caddyfile: null, declared: null, releases: [], processes: [] })))
      .toThrow('the registry cannot be rebuilt: the server has no saved version of it, no Caddyfile Portside rendered, and no declared configuration was given');
  });
});

describe('readCaddyfile', () => {
  test('keeps blocks Portside did not write as extra, verbatim', () => {
    const hand = 'hand.portside.test {\n\trespond "hand written" 200\n}';
    const r = readCaddyfile(`${renderCaddyfile(LIVE)}\n${hand}\n`);
    expect(r?.extra).toBe(hand);
    expect(r?.services).toEqual(LIVE.services);
  });

  test('a file with no Portside static site is not read as Portside\'s', () => {
    expect(readCaddyfile('example.org {\n\trespond hi\n}\n')).toBeNull();
  });
});

describe('renderRegistry and parseRegistryText', () => {
  test('the agent writes the registry with the CLI\'s renderer: one function, not a copy', () => {
    expect(renderAgent).toBe(renderRegistry);
  });

  test.each<[string, Registry]>([
    ['subdomain routing with e-mail and extra', { ...LIVE, email: 'a@b.org', extra: 'x.org {\n\trespond x\n}' }],
    ['path routing without a domain', { version: 1, routing: 'path', tls: 'acme', services: { a: 3000 }, paths: PATHS }],
    ['no services', { ...LIVE, services: {} }],
  ])('round trip, %s: render → parse (agent and CLI) → render gives the same registry and bytes', (_title, reg) => {
    const text = renderRegistry(reg);
    const agent = parseRegistryText(text);
    expect(agent.problem).toBeNull();
    expect(agent.registry).toEqual(reg);
    expect(parseRegistry(text)).toEqual(reg);
    expect(renderRegistry(parseRegistry(text))).toBe(text);
  });

  test('services are written sorted, whatever order they were added in', () => {
    const text = renderRegistry({ ...LIVE, services: { zeta: 3002, alpha: 3001 } });
    expect(Object.keys(JSON.parse(text).services)).toEqual(['alpha', 'zeta']);
  });

  test.each([
    ['', /not valid JSON/],
    ['[]', /not a JSON object/],
    ['{"version":2}', /version is 2, expected 1/],
    [JSON.stringify({ ...LIVE, services: { a: 'x' } }), /services\.a is "x", not a port/],
  ])('calls %j corrupt', (text, why) => {
    expect(parseRegistryText(text).problem).toMatch(why);
  });
});
