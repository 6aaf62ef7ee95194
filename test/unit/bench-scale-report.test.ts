import { scaleGoals, scaleMarkdown, SCALE_GOAL } from '../../bench/scale-report';
import type { ScalePoint } from '../../bench/scale';

const stat = (median: number) => ({ median, min: median - 10, max: median + 10, values: [median] });
const point = (role: ScalePoint['role'], registered: number, files: number, unchanged: number, backend: number): ScalePoint => ({
  role, registered, throwaways: registered - 1, files, unchanged: stat(unchanged), backend: stat(backend), steps: { build: 10 },
});

const points: ScalePoint[] = [
  point('baseline', 1, 0, 400, 800),
  point('services', 30, 0, 420, 820),
  point('combined', 30, 5000, 500, 1300),
  point('files', 1, 20000, 900, 1700),
];

describe('scale bench goals (issue #12)', () => {
  test('only the combined point has goals, one per deploy, against the baseline', () => {
    const goals = scaleGoals(points);
    expect(goals.map((g) => g.scenario)).toEqual([
      'nothing changed, 30 services registered and 5000 extra files',
      'one back-end line, 30 services registered and 5000 extra files',
    ]);
    expect(goals[0]).toMatchObject({ measured: '1.25× (0.50 s vs 0.40 s, +0.10 s)', met: true });
    expect(goals[1]).toMatchObject({ measured: '1.63× (1.30 s vs 0.80 s, +0.50 s)', met: false });
    expect(goals.every((g) => g.goal === `within ${SCALE_GOAL}× of 1 service, course-sized app`)).toBe(true);
  });

  test('a curve point past 1.5× is reported but is not a goal', () => {
    const md = scaleMarkdown(points, scaleGoals(points), null, { date: '2026-11-30', durationS: 100, reps: 3, fake: false });
    expect(md).toContain('| curve: files | 1 | 20000 | 0.90 (0.89–0.91) | 2.25× |');
    expect(md).toContain('| **goal point** | 30 | 5000 | 0.50 (0.49–0.51) | 1.25× |');
    const goalRows = md.split('## Goals')[1].split('\n').filter((l) => l.startsWith('| nothing') || l.startsWith('| one'));
    expect(goalRows).toHaveLength(2);
    expect(md).toContain('measured, with no goal');
  });

  test('the baseline measured again at the end: every ratio is against the faster of the two', () => {
    const withAgain = [...points, point('baseline-again', 1, 0, 380, 820)];
    const goals = scaleGoals(withAgain);
    expect(goals[0].measured).toBe('1.32× (0.50 s vs 0.38 s, +0.12 s)');
    expect(goals[1].measured).toBe('1.63× (1.30 s vs 0.80 s, +0.50 s)');
    const md = scaleMarkdown(withAgain, goals, null, { date: '2026-11-30', durationS: 100, reps: 3, fake: false });
    expect(md).toContain('| baseline, again at the end | 1 | 0 | 0.38 (0.37–0.39) | 1.00× | 0.82 (0.81–0.83) | 1.02× |');
    expect(md).toContain('| baseline | 1 | 0 | 0.40 (0.39–0.41) | 1.05× | 0.80 (0.79–0.81) | 1.00× |');
  });

  test('a run without its baseline is refused, naming what is missing', () => {
    expect(() => scaleGoals(points.slice(1))).toThrow(/without its baseline point \(1 service, the course-sized app\)/);
  });
});
