/**
 * What a health answer means, in one place for `services`, `doctor` and the deploy's messages.
 * A deploy accepts any answer below 500 as "up" (an API-only service may answer 404 at `/`), but
 * reporting such an answer as "ok" hides a service that serves nothing: a 4xx is shown as what it is.
 */
export type HealthAnswer = number | string | null | undefined;

export type HealthKind = 'ok' | 'client-error' | 'failing' | 'unknown';

/** ok: 1xx–3xx; client-error: 4xx (it runs, but does not answer the health path); failing: 5xx or no answer. */
export function healthKind(answer: HealthAnswer): HealthKind {
  if (answer === null || answer === undefined) return 'unknown';
  if (typeof answer !== 'number') return 'failing';
  if (answer < 400) return 'ok';
  if (answer < 500) return 'client-error';
  return 'failing';
}

/** One short phrase: "ok (200)", "answers 404 at /", "failing (ECONNREFUSED)", "-". */
export function describeHealth(answer: HealthAnswer, path = '/'): string {
  switch (healthKind(answer)) {
    case 'ok':
      return `ok (${answer})`;
    case 'client-error':
      return `answers ${answer} at ${path}`;
    case 'failing':
      return `failing (${answer})`;
    default:
      return '-';
  }
}
