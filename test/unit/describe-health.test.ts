import { describeHealth, healthKind } from '../../lib/health/describe-health';

describe('describeHealth', () => {
  test.each([
    [200, '/', 'ok (200)'],
    [301, '/', 'ok (301)'],
    [404, '/', 'answers 404 at /'],
    [401, '/api/health', 'answers 401 at /api/health'],
    [500, '/', 'failing (500)'],
    ['ECONNREFUSED', '/', 'failing (ECONNREFUSED)'],
    [null, '/', '-'],
  ] as const)('%s at %s → %s', (answer, path, text) => {
    expect(describeHealth(answer, path)).toBe(text);
  });

  test('a 4xx is never "ok"', () => {
    for (let code = 400; code < 500; code++) expect(healthKind(code)).toBe('client-error');
  });
});
