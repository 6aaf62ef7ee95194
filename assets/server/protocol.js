'use strict';
// The agent talks to the Portside CLI in JSON lines on stdout; raw tool output (npm, tar) goes to
// stderr. A closed connection must never stop a deploy half-way: writes to a dead pipe are dropped
// and SIGHUP is ignored, so the agent always finishes or rolls back, then releases the lock.
process.on('SIGHUP', () => {});
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
const interrupt = require('./interrupt');

function send(msg) {
  try {
    process.stdout.write(JSON.stringify(msg) + '\n');
  } catch {
    /* the client is gone; carry on */
  }
}

const started = Date.now();
let current;
/** Announce a step and time it; the CLI prints these as they come. */
async function step(name, fn) {
  const stop = interrupt.beforeStep(name);
  if (stop) throw new AgentError(stop, undefined, 'INTERRUPTED');
  const t0 = Date.now();
  current = name;
  send({ type: 'step', name, status: 'start', at: t0 - started });
  const result = await fn();
  send({ type: 'step', name, status: 'done', ms: Date.now() - t0 });
  return result;
}

function note(text) {
  send({ type: 'note', text });
}

/** An error meant for the user: one line, plus optional detail (log tail). */
class AgentError extends Error {
  constructor(message, detail, code) {
    super(message);
    this.detail = detail;
    this.code = code;
  }
}

/** Read newline-terminated JSON messages from stdin; after a `plan` message, the rest is a tar stream. */
function createInput() {
  // The CLI needs the pid to ask for a stop (Ctrl-C), and an answer it can tell the user.
  send({ type: 'agent', pid: process.pid });
  interrupt.listen((stopping) => send({ type: 'interrupt', stopping, step: current || null }));
  let buf = Buffer.alloc(0);
  const waiters = [];
  const lines = [];
  let ended = false;
  let rawTarget = null;
  // After a plan with an upload, the bytes are tar data, not lines: they may share a chunk with the plan.
  let raw = false;
  process.stdin.on('data', (chunk) => {
    if (rawTarget) return rawTarget.push(chunk);
    buf = Buffer.concat([buf, chunk]);
    let i;
    while (!raw && (i = buf.indexOf(10)) >= 0) {
      const line = buf.subarray(0, i).toString('utf8');
      buf = buf.subarray(i + 1);
      if (/^\{"type":"plan"/.test(line) && /"upload":true\}$/.test(line)) raw = true;
      lines.push(line);
      flush();
    }
  });
  process.stdin.on('end', () => {
    ended = true;
    if (rawTarget) rawTarget.push(null);
    flush();
  });
  process.stdin.on('error', () => {
    ended = true;
    if (rawTarget) rawTarget.push(null);
    flush();
  });
  function flush() {
    while (waiters.length && (lines.length || ended)) {
      const w = waiters.shift();
      w(lines.length ? lines.shift() : null);
    }
  }
  return {
    /** The next message, or null when the client has gone. */
    next() {
      return new Promise((resolve) => {
        waiters.push((line) => {
          if (line === null) return resolve(null);
          try {
            resolve(JSON.parse(line));
          } catch {
            resolve(null);
          }
        });
        flush();
      });
    },
    /** Everything after the last message, as a readable stream (the tar upload). */
    rest() {
      const { Readable } = require('stream');
      rawTarget = new Readable({ read() {} });
      if (buf.length) rawTarget.push(buf);
      buf = Buffer.alloc(0);
      if (ended) rawTarget.push(null);
      return rawTarget;
    },
  };
}

module.exports = { send, step, note, AgentError, createInput, currentStep: () => current };
