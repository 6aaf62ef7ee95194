'use strict';
const { spawn } = require('child_process');
const npmFailure = require('../../lib/agent/npm-failure');

/** Run a program (argv, no shell) and collect its output; rejects with stderr's tail on failure. */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env || process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (opts.echo) process.stderr.write(d);
    });
    child.stderr.on('data', (d) => {
      err += d;
      if (opts.echo) process.stderr.write(d);
    });
    if (opts.input) opts.input.pipe(child.stdin);
    else child.stdin.end();
    child.stdin.on('error', () => {});
    child.on('error', (e) => reject(Object.assign(new Error(`${cmd} could not start: ${e.message}`), { stdout: out, stderr: err })));
    child.on('close', (code, signal) => {
      if (code === 0 || opts.allowFail) resolve({ code, stdout: out, stderr: err });
      else if (cmd === 'npm' || /^npm (error|ERR!)/m.test(err + out)) {
        // npm's tail is about its own log file; the lines that matter (or the full disk) are elsewhere.
        const why = npmFailure.describeNpmFailure(cmd === 'npm' ? `npm ${args[0]}` : `npm (through ${cmd})`, signal || `exit ${code}`, `${out}\n${err}`, npmFailure.diskFree(npmFailure.npmDirs(opts.cwd)));
        reject(Object.assign(new Error(why.message), { detail: why.detail, stdout: out, stderr: err, code }));
      } else reject(Object.assign(new Error(`${[cmd, ...args].join(' ')} failed (${signal || `exit ${code}`}): ${tail(err || out, 5)}`), { stdout: out, stderr: err, code }));
    });
  });
}

function tail(text, n) {
  return String(text).trim().split('\n').slice(-n).join('\n');
}

module.exports = { run, tail };
