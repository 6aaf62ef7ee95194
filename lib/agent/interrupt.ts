// Ctrl-C in the CLI. The agent ignores SIGHUP (a cut connection must not stop a deploy half-way), so
// the CLI asks it to stop in so many words: SIGUSR2, sent by `kill` over a second SSH channel. Before
// the step that commits (lib/protocol/steps.ts marks them), stopping is safe: the agent refuses the
// next step and cleans up as after any failure. From that step on it finishes (or rolls back) as it
// would have. Either way it answers at once, so the CLI can tell the user which.
import { COMMIT_STEPS, StepName } from '../protocol';

let requested = false;
let committed = false;

/** Answer each request with `reply(stopping)`: true when the agent will stop before committing. */
export function listen(reply: (stopping: boolean) => void): void {
  process.on('SIGUSR2', () => {
    if (!committed) requested = true;
    reply(!committed);
  });
}

/** Called as each step starts: the reason to refuse it (a stop was asked for), else null. */
export function beforeStep(name: StepName): string | null {
  if (requested) return `stopped at your request (Ctrl-C) before ${name}: nothing was switched`;
  if (COMMIT_STEPS.has(name)) committed = true;
  return null;
}
