/**
 * Where a deploy's time goes, measured: the deploy is run through `npm run deploy-service` with
 * bench/deploy-trace.js preloaded (NODE_OPTIONS), which marks the CLI's moments from its own process
 * start; `node -e 0` is timed beside it for Node's own start-up. Phases are medians over the runs.
 */
import { join } from 'node:path';
import { Launcher, portsideDeploy, REPO, runTimed } from './flows';
import { stat } from './report';

/** One phase of a deploy and its median time. */
export interface Phase {
  readonly name: string;
  readonly ms: number;
}

export interface Breakdown {
  readonly runs: number;
  readonly launcher: Launcher;
  /** The whole command, median (wall-clock, from spawn to exit). */
  readonly totalMs: number;
  readonly phases: Phase[];
  /** The CLI's raw marks of the median run. */
  readonly marks: Array<[string, number]>;
}

const TRACE = join(REPO, 'bench', 'deploy-trace.js');

/** The CLI's marks, from the last PORTSIDE_TRACE line of its stderr (npm's own process prints one first). */
export function parseTrace(stderr: string): Array<[string, number]> {
  const lines = stderr.split('\n').filter((l) => l.startsWith('PORTSIDE_TRACE '));
  // With NODE_OPTIONS, npm's process is traced too; the CLI's trace is the one with an SSH connection.
  const cli = lines.map((l) => JSON.parse(l.slice('PORTSIDE_TRACE '.length)).marks as Array<[string, number]>).find((m) => m.some(([n]) => n === 'ssh ready'));
  if (!cli) throw new Error(`no trace from the CLI in its stderr:\n${stderr.slice(-1500)}`);
  return cli;
}

/** Split one run into phases: a wall-clock total and the CLI's marks (ms since its own start). */
export function phasesOf(wallMs: number, marks: ReadonlyArray<[string, number]>, nodeStartMs: number, launcher: Launcher): Phase[] {
  const at = (re: RegExp): number => {
    const m = marks.find(([n]) => re.test(n));
    if (!m) throw new Error(`the trace has no mark ${re}: ${JSON.stringify(marks)}`);
    return m[1];
  };
  const cliStart = at(/^cli code starts loading$/);
  const connect = at(/^ssh connect called$/);
  const ready = at(/^ssh ready$/);
  // The agent's launch is the last command asked for before the agent's first line (how it is started,
  // `node …` or through a shell that picks the server's Node, is agent-client's business).
  const firstLine = marks.findIndex(([n]) => /^agent agent$/.test(n));
  const launch = marks.slice(0, Math.max(0, firstLine)).reverse().find(([n]) => /^exec \d+ .* asked$/.test(n));
  if (!launch) throw new Error(`the trace has no command asked before the agent's first line: ${JSON.stringify(marks)}`);
  const agentAsked = launch[1];
  const agentFirst = at(/^agent agent$/);
  const state = at(/^agent state$/);
  const result = at(/^agent result$/);
  const exit = at(/^exit$/);
  return [
    ...(launcher === 'npm' ? [{ name: "npm's launcher (npm run → the CLI's process, and back)", ms: wallMs - exit }] : [{ name: 'spawn and reaping (outside the CLI process)', ms: wallMs - exit }]),
    { name: `Node start-up and bin/portside.js's freshness check, to the CLI bundle (node -e 0 alone: ${nodeStartMs.toFixed(0)} ms)`, ms: cliStart },
    { name: 'module load, argument and folder checks, target, build-skip check', ms: connect - cliStart },
    { name: 'SSH connect (TCP, key exchange, auth)', ms: ready - connect },
    // The agent's launch checks that it is there itself (one exec): this is the CLI's own work up to it.
    { name: 'agent present? (checked by the launch itself: the CLI\'s work up to the launch)', ms: agentAsked - ready },
    { name: 'agent start on the server (exec → its first line; the presence check is part of it)', ms: agentFirst - agentAsked },
    { name: 'agent reads the server state (lock, registry, current release)', ms: state - agentFirst },
    { name: "file manifest, plan, agent's answer", ms: result - state },
    { name: 'close and exit', ms: exit - result },
  ];
}

/** Run `n` deploys of `app` as `name` (they should change nothing) with the trace, and break them down. */
export async function breakdown(app: string, name: string, port: number, n: number, launcher: Launcher = 'npm'): Promise<Breakdown> {
  const runs: Array<{ wall: number; marks: Array<[string, number]> }> = [];
  const nodeStarts: number[] = [];
  for (let i = 0; i < n; i++) {
    nodeStarts.push((await runTimed(process.execPath, ['-e', '0'])).ms);
    // Without the kept connection (lib/ssh/keeper): the trace marks ssh2's connect and execs, which a
    // kept connection does not make in the CLI; this is the first command after the idle limit.
    const r = await portsideDeploy(app, name, [String(port)], launcher, { nodeOptions: `--require ${TRACE}`, env: { PORTSIDE_SSH_PERSIST: '0' } });
    runs.push({ wall: r.ms, marks: parseTrace(r.err) });
  }
  const nodeStart = stat(nodeStarts).median;
  const all = runs.map((r) => phasesOf(r.wall, r.marks, nodeStart, launcher));
  const phases = all[0].map((p, i) => ({ name: p.name, ms: stat(all.map((ps) => ps[i].ms)).median }));
  const byWall = [...runs].sort((a, b) => a.wall - b.wall);
  return { runs: n, launcher, totalMs: stat(runs.map((r) => r.wall)).median, phases, marks: byWall[Math.floor((n - 1) / 2)].marks };
}
