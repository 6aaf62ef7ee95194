import type { CheckResult, DoctorFacts } from '../types';

/**
 * One family of doctor checks, in one file (cdk-nag's one-rule-per-file shape): a pure function
 * from the gathered facts to the family's lines of the report. Every id it returns starts with
 * `idPrefix`, so a line in the report leads back to the file that wrote it.
 */
export interface CheckFamily {
  /** The family's name, which is also its file's name: `sockets` is checks/sockets.ts. */
  readonly name: string;
  /** What every id of the family starts with, e.g. `sockets.` (ids are stable: scripts grep them). */
  readonly idPrefix: string;
  /** What the family looks at, in one sentence (the doctor page lists the families). */
  readonly looksAt: string;
  readonly run: (facts: DoctorFacts) => CheckResult[];
}
