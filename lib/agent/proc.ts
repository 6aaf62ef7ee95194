// /proc, read one way for every module that asks about processes (the lock, port owners, probe clean-up).
import { readdirSync, readFileSync } from 'node:fs';

/** Positions in statFields(): /proc/<pid>/stat's fields 4 (ppid), 5 (process group) and 22 (start time). */
export const STAT = { PPID: 1, PGRP: 2, START_TIME: 19 } as const;

/**
 * The fields of /proc/<pid>/stat after the command name, or null when the process is gone. The name is
 * in parentheses and may hold spaces, so the fields are counted from its last ')'.
 */
export function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The pids of the processes this user can see. */
export function allPids(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}
