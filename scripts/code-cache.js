// Loads the CLI bundle (dist/cli.js) with V8's code cache on Node 20, which has no
// module.enableCompileCache (Node 22+): the first run after a build saves the compiled code of every
// function it ran, and later runs skip parsing and compiling them. Measured on this machine: ~20–30 ms
// of a deploy's start (the bundle is ~1.2 MB with ssh2 in it).
//
// The cache file's name carries the bundle's identity (inode, size, mtime: the build renames a new file
// into place) and Node's version, because V8 itself only checks the source's length: a cache made for
// another build of the same length would be accepted and run the old code. Any failure to read or write
// the cache (a read-only install) only means compiling as without it.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

/**
 * Where the cache of `file` lives: a folder named after the file's identity and this Node, one file per
 * command (argv[2]): each command's run saves the functions it ran, which differ between commands.
 */
function cachePathFor(file, command = process.argv[2]) {
  const st = fs.statSync(file);
  const key = [process.version, process.arch, st.ino, st.size, Math.trunc(st.mtimeMs)].join('-');
  const name = /^[a-z][a-z-]{0,30}$/.test(command || '') ? command : 'other';
  return path.join(path.dirname(file), '.code-cache', `${path.basename(file, '.js')}-${key}`, `${name}.bin`);
}

/** Write the code V8 has for `script` (including functions compiled while it ran); drops older builds' caches. */
function saveCache(script, cacheFile) {
  try {
    const dir = path.dirname(cacheFile);
    const top = path.dirname(dir);
    const prefix = path.basename(dir).split('-')[0] + '-';
    for (const old of fs.existsSync(top) ? fs.readdirSync(top) : []) {
      if (old.startsWith(prefix) && old !== path.basename(dir)) fs.rmSync(path.join(top, old), { recursive: true, force: true });
    }
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${cacheFile}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, cacheFile);
  } catch {
    /* a cache is an optimisation: without it the next run compiles, as this one did */
  }
}

/** Compile and run `module`'s file as CommonJS does, with the code cache. */
function compileWithCache(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  let cacheFile;
  let cachedData;
  try {
    cacheFile = cachePathFor(filename);
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* no cache yet */
  }
  const script = new vm.Script(Module.wrap(source), {
    filename,
    cachedData,
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  // Saved at exit, so the cache holds every function this run compiled, not only the top level; only
  // by a run that succeeded: one that stopped at a usage error would leave a cache without the rest.
  if (cacheFile && (!cachedData || script.cachedDataRejected)) process.once('exit', (code) => code === 0 && saveCache(script, cacheFile));
  const req = (id) => module.require(id);
  req.resolve = (request, options) => Module._resolveFilename(request, module, false, options);
  req.main = require.main;
  req.cache = Module._cache;
  const fn = script.runInThisContext({ displayErrors: true });
  return fn.call(module.exports, module.exports, req, module, filename, path.dirname(filename));
}

/**
 * require(file) through Node's loader (so it is cached and traced like any module), compiling it with
 * the code cache. Only `file` is affected; every other module loads as usual.
 */
function requireWithCodeCache(file) {
  const loadJs = Module._extensions['.js'];
  Module._extensions['.js'] = function portsideCodeCache(module, filename) {
    if (filename !== file) return loadJs(module, filename);
    Module._extensions['.js'] = loadJs;
    return compileWithCache(module, filename);
  };
  try {
    return require(file);
  } finally {
    Module._extensions['.js'] = loadJs;
  }
}

module.exports = { requireWithCodeCache, cachePathFor };
