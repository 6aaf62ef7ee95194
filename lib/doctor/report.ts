import { CheckResult, CheckStatus } from './types';

const MARK: Record<CheckStatus, string> = { pass: 'PASS', info: 'INFO', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

/** The text report: one line per check, the fix indented under every warning and failure, then a summary. */
export function formatReport(results: readonly CheckResult[]): string[] {
  return [...formatResults(results), '', summary(results)];
}

/** One line per check and the fix under every warning and failure, each line indented by `indent`. */
export function formatResults(results: readonly CheckResult[], indent = ''): string[] {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${indent}${MARK[r.status]}  ${r.message}`);
    if (r.fix && (r.status === 'fail' || r.status === 'warn')) lines.push(`${indent}      fix: ${r.fix}`);
  }
  return lines;
}

export function summary(results: readonly CheckResult[]): string {
  const n = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  const failed = n('fail');
  return `${failed === 0 ? 'healthy' : `${failed} problem${failed > 1 ? 's' : ''}`}: ${n('pass')} passed, ${failed} failed, ${n('warn')} warnings, ${n('info')} notes, ${n('skip')} skipped`;
}
