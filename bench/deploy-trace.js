// Preloaded into the CLI (`node --require bench/deploy-trace.js bin/portside.js deploy-service …`) by
// the bench's time breakdown: it marks when the process started, when the CLI's own code and ssh2 were
// loaded, when the SSH connection was asked for and ready, and when each exec channel opened, first
// answered, and (for the agent) sent its state and its result. It prints one JSON line to stderr at
// exit, prefixed PORTSIDE_TRACE. It changes nothing the CLI does: it only listens.
'use strict';
const Module = require('module');
const { performance } = require('perf_hooks');

const marks = [];
const mark = (name) => marks.push([name, +performance.now().toFixed(1)]);

const load = Module._load;
let cliSeen = false;
Module._load = function traced(request, parent, isMain) {
  // The built CLI (bin/portside.js requires dist/cli.js); earlier shims loaded transpiled files from a cache.
  const first = !cliSeen && (/[\\/]dist[\\/]cli\.js$/.test(request)
    || (parent && /[\\/]\.cache[\\/]portside[\\/]cli[\\/]|[\\/]bin[\\/]cli\.ts$/.test(parent.filename || '')));
  if (first) {
    cliSeen = true;
    mark('cli code starts loading');
  }
  const m = load.apply(this, arguments);
  if (request === 'ssh2' && m && m.Client && !m.Client.__traced) patch(m.Client);
  return m;
};

// ssh2 is bundled into dist/cli.js (scripts/build.js), so it is never required by name: its Client is
// found when one is constructed (every EventEmitter runs EventEmitter.init) and patched then, before
// its connect() is called.
const EventEmitter = require('events');
const init = EventEmitter.init;
EventEmitter.init = function tracedInit() {
  const r = init.apply(this, arguments);
  const C = this.constructor;
  if (C && /^Client\d*$/.test(C.name) && !C.__traced && typeof C.prototype.forwardOut === 'function' && typeof C.prototype.exec === 'function' && typeof C.prototype.connect === 'function') patch(C);
  return r;
};

function patch(Client) {
  Client.__traced = true;
  const connect = Client.prototype.connect;
  Client.prototype.connect = function tracedConnect() {
    mark('ssh connect called');
    this.once('ready', () => mark('ssh ready'));
    return connect.apply(this, arguments);
  };
  const exec = Client.prototype.exec;
  let n = 0;
  Client.prototype.exec = function tracedExec(command, ...rest) {
    const id = `exec ${++n} (${String(command).slice(0, 40)})`;
    const isAgent = /agent\.js/.test(String(command));
    mark(`${id} asked`);
    const cb = rest[rest.length - 1];
    rest[rest.length - 1] = (err, ch) => {
      if (!err) {
        mark(`${id} open`);
        let firstData = true;
        let text = '';
        ch.on('data', (d) => {
          if (firstData) mark(`${id} first output`);
          firstData = false;
          if (!isAgent) return;
          text += d.toString('utf8');
          let i;
          while ((i = text.indexOf('\n')) >= 0) {
            const line = text.slice(0, i);
            text = text.slice(i + 1);
            const type = /^\{"type":"([a-z]+)"/.exec(line);
            if (type && ['agent', 'state', 'result'].includes(type[1])) mark(`agent ${type[1]}`);
          }
        });
        ch.on('close', () => mark(`${id} closed`));
      }
      return cb(err, ch);
    };
    return exec.call(this, command, ...rest);
  };
}

process.on('exit', () => {
  mark('exit');
  process.stderr.write(`PORTSIDE_TRACE ${JSON.stringify({ marks })}\n`);
});
