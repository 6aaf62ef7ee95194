// What makes a deploy start sooner (#12), with the real pieces: Node running scripts/code-cache.js in a
// child process, and sh running the agent's one-exec launch line exactly as the server's login shell does.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentBundle, launchAgentArgv } from '../../lib/deploy/agent-client';
import { SERVER_BUNDLE_DIR } from '../../lib/package-root';
import { toShellLine } from '../../lib/ssh/quote';

const CODE_CACHE = join(__dirname, '..', '..', 'scripts', 'code-cache.js');

describe('the CLI bundle loaded with V8 code cache (scripts/code-cache.js)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portside-code-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Run `bundle` through requireWithCodeCache as the command `command`; its stdout and exit code. */
  const run = (bundle: string, command = 'deploy-service'): { out: string; code: number | null } => {
    // A main script, as bin/portside.js is: the bundle's require.main is then that script.
    const main = join(dir, 'main.js');
    writeFileSync(main, `require(${JSON.stringify(CODE_CACHE)}).requireWithCodeCache(${JSON.stringify(bundle)});`);
    const r = spawnSync(process.execPath, [main, command], { encoding: 'utf8' });
    return { out: r.stdout.trim(), code: r.status };
  };
  const cacheFiles = (): string[] => (existsSync(join(dir, '.code-cache'))
    ? readdirSync(join(dir, '.code-cache')).flatMap((d) => readdirSync(join(dir, '.code-cache', d)).map((f) => `${d}/${f}`)) : []);
  /** A new build: written beside, then renamed into place, as scripts/build.js does. */
  const build = (file: string, text: string): void => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };

  test('a successful run saves the cache for its command; the next run uses it and runs the same code', () => {
    const bundle = join(dir, 'cli.js');
    build(bundle, 'function greet() { return "hello " + module.id.length; } console.log(greet());');
    const first = run(bundle);
    expect(first).toEqual({ out: expect.stringMatching(/^hello \d+$/), code: 0 });
    const files = cacheFiles();
    expect(files).toEqual([expect.stringMatching(/^cli-v\d+\.\d+\.\d+-\w+-\d+-\d+-\d+\/deploy-service\.bin$/)]);
    const saved = statSync(join(dir, '.code-cache', files[0])).mtimeMs;
    expect(run(bundle)).toEqual(first);
    // Accepted, so not written again.
    expect(statSync(join(dir, '.code-cache', files[0])).mtimeMs).toBe(saved);
  });

  test('a rebuilt bundle of the same length runs its new code, never the cached old code', () => {
    const bundle = join(dir, 'cli.js');
    build(bundle, 'console.log("old build");');
    expect(run(bundle).out).toBe('old build');
    // V8 checks only the source's length: the cache's name must carry the file's identity.
    build(bundle, 'console.log("new build");');
    expect(run(bundle).out).toBe('new build');
    expect(cacheFiles()).toHaveLength(1); // the old build's cache is dropped
  });

  test('a failed run (exit code 1) saves no cache, so a later successful run makes a complete one', () => {
    const bundle = join(dir, 'cli.js');
    build(bundle, 'if (process.argv[2] === "fail") { process.exitCode = 1; } else { console.log("ok"); }');
    expect(run(bundle, 'fail').code).toBe(1);
    expect(cacheFiles()).toEqual([]);
    expect(run(bundle, 'ok')).toEqual({ out: 'ok', code: 0 });
    expect(cacheFiles()).toEqual([expect.stringMatching(/\/ok\.bin$/)]);
  });

  test('a cache that cannot be read or written (its place is taken by a file) only means running without one', () => {
    writeFileSync(join(dir, '.code-cache'), 'not a folder');
    const bundle = join(dir, 'cli.js');
    build(bundle, 'console.log("still runs");');
    expect(run(bundle)).toEqual({ out: 'still runs', code: 0 });
    expect(run(bundle)).toEqual({ out: 'still runs', code: 0 });
  });

  test('the module is a real CommonJS module: require, module.exports and __dirname work', () => {
    const bundle = join(dir, 'cli.js');
    writeFileSync(join(dir, 'dep.js'), 'module.exports = 41;');
    build(bundle, 'module.exports = require("./dep") + 1; console.log(module.exports, __dirname === require("path").dirname(__filename), require.main === process.mainModule);');
    expect(run(bundle).out).toBe('42 true true');
  });
});

describe('the agent is launched in one exec that checks it is there', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'portside-agent-launch-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  /** The launch line as the server's shell runs it (from the deploy user's home), with `stdin`. */
  const launch = (agentPath: string, stdin: string) =>
    spawnSync('sh', ['-c', toShellLine(launchAgentArgv(agentPath, 'status'))], { cwd: home, input: stdin, encoding: 'utf8' });

  test('no agent at the path: exit 86 with one line, and nothing else runs or reads the request', () => {
    const r = launch('.portside/bin/0123456789abcdef/agent.js', '{"type":"header"}\n');
    expect(r.status).toBe(86);
    expect(r.stderr).toBe('portside: no agent at this path\n');
    expect(r.stdout).toBe('');
  });

  test('the agent there runs with Node, its command, and the request on its stdin', () => {
    mkdirSync(join(home, 'bin'), { recursive: true });
    writeFileSync(join(home, 'bin', 'agent.js'), 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.stringify({ argv: process.argv.slice(2), stdin: s })));');
    const r = launch('bin/agent.js', 'a request; $(touch pwned) "quoted"\n');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ argv: ['status'], stdin: 'a request; $(touch pwned) "quoted"\n' });
    expect(existsSync(join(home, 'pwned'))).toBe(false);
  });

  test('a path with shell metacharacters is data, never run', () => {
    const r = launch('x"; touch pwned; ".js', '');
    expect(r.status).toBe(86);
    expect(existsSync(join(home, 'pwned'))).toBe(false);
  });
});

describe('the agent bundle version', () => {
  test('is the sha256 of the bundle files (name, NUL, bytes), as recorded by the build or computed', () => {
    const h = createHash('sha256');
    for (const n of readdirSync(SERVER_BUNDLE_DIR).filter((f) => f.endsWith('.js')).sort()) h.update(n).update('\0').update(readFileSync(join(SERVER_BUNDLE_DIR, n)));
    expect(agentBundle().version).toBe(h.digest('hex').slice(0, 16));
  });
});
