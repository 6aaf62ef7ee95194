/** Every step of the protocol's list, printed by the CLI (lib/deploy/step-lines.ts): announced, then timed. */
import { printer } from '../../lib/deploy/step-lines';
import { COMMAND_STEPS, STEPS } from '../../lib/protocol';

test.each(STEPS.map((s) => s.name))('%s: "→ name" when it starts, "✓ name (time)" when it ends, its time kept', (name) => {
  const lines: string[] = [];
  const timings: Record<string, number> = {};
  const print = printer((l) => lines.push(l), timings);
  print({ type: 'step', name, status: 'start' });
  print({ type: 'step', name, status: 'done', ms: 1234 });
  expect(lines).toEqual([`→ ${name}`, `✓ ${name} (1.23 s)`]);
  expect(timings).toEqual({ [name]: 1234 });
});

test('a whole deploy: every line that starts a step has its timed line, upload included', () => {
  const lines: string[] = [];
  const print = printer((l) => lines.push(l), {});
  for (const name of COMMAND_STEPS.deploy) {
    print({ type: 'step', name, status: 'start' });
    print({ type: 'note', text: 'a note in between' });
    print({ type: 'step', name, status: 'done', ms: 40 });
  }
  const started = lines.filter((l) => l.startsWith('→ ')).map((l) => l.slice(2));
  const ended = lines.map((l) => /^✓ (\S+) \(\d+\.\d\d s\)$/.exec(l)?.[1]).filter(Boolean);
  expect(ended).toEqual(started);
  expect(started[0]).toBe('upload');
});
