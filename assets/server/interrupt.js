'use strict';
// Ctrl-C in the CLI. The agent ignores SIGHUP (a cut connection must not stop a deploy half-way), so
// the CLI asks it to stop in so many words: SIGUSR2, sent by `kill` over a second SSH channel. Before
// the step that commits (the switch, or a route change or stop), stopping is safe: the agent refuses
// the next step and cleans up as after any failure. From that step on it finishes (or rolls back) as
// it would have. Either way it answers at once, so the CLI can tell the user which.
const COMMIT_STEPS = new Set(['switch', 'route', 'stop', 'purge']);
let requested = false;
let committed = false;

/** Answer each request with `reply(stopping)`: true when the agent will stop before committing. */
function listen(reply) {
  process.on('SIGUSR2', () => {
    if (!committed) requested = true;
    reply(!committed);
  });
}

/** Called as each step starts: the reason to refuse it (a stop was asked for), else null. */
function beforeStep(name) {
  if (requested) return `stopped at your request (Ctrl-C) before ${name}: nothing was switched`;
  if (COMMIT_STEPS.has(name)) committed = true;
  return null;
}

module.exports = { listen, beforeStep, COMMIT_STEPS };
