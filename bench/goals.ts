/**
 * The goals `npm run bench` checks (issue #12's speed goals and the earlier ones), each one row of the
 * report's Goals table: what was measured against what was asked.
 */
import { BenchResult, Goal, kB, LoadResult, ScenarioResult, stat } from './report';

export interface GoalInputs {
  readonly scenarios: readonly ScenarioResult[];
  readonly load: readonly LoadResult[];
  readonly websocket: BenchResult['websocket'];
  readonly latency: BenchResult['latency'];
  readonly cold: BenchResult['cold'];
  readonly loadRedeploys: number;
  readonly keptConnection?: BenchResult['keptConnection'];
  readonly unkept?: BenchResult['unkept'];
}

const s2 = (ms: number): string => (ms / 1000).toFixed(2);

/** Every goal, in the report's order. */
export function benchGoals(g: GoalInputs): Goal[] {
  const sc = (id: string): ScenarioResult => g.scenarios.find((s) => s.id === id)!;
  const kept = g.keptConnection;
  // Which connection the timed deploys had: the figure users get on a redeploy within the idle limit, or without it.
  const how = !kept ? '' : kept.setting === 'off' ? ', no kept connection' : `, kept connection warm (${kept.standbyHandovers} standby handovers)`;
  return [
    speedGoal(sc('unchanged'), 15, how),
    ...(g.unkept ? [unkeptGoal(sc('unchanged'), g.unkept.unchanged, 15)] : []),
    speedGoal(sc('backend'), 8, how),
    ...(g.unkept ? [unkeptGoal(sc('backend'), g.unkept.backend, 8)] : []),
    bytesGoal(sc('backend')),
    frontEndGoal(sc('frontend')),
    coldGoal(g.cold),
    dependencyGoal(sc('dependency')),
    loadGoal(g.load, g.loadRedeploys),
    websocketGoal(g.websocket),
    ...(g.latency ? [latencyGoal(g.latency)] : []),
  ];
}

/** Portside through `npm run` at least `times` faster than the course's flow; the bare CLI's figure beside it when measured. */
function speedGoal(s: ScenarioResult, times: number, how: string): Goal {
  const ratio = s.flows.scp.ms.median / s.flows.portside.ms.median;
  const b = s.flows.bare;
  const bareNote = b ? `; bare CLI ${s2(b.ms.median)} s, ${(s.flows.scp.ms.median / b.ms.median).toFixed(1)}×` : '';
  return {
    scenario: `${s.title} (npm run deploy-service${how})`, goal: `≥ ${times}× faster than the course's flow`,
    measured: `${ratio.toFixed(1)}× (${s2(s.flows.scp.ms.median)} s vs ${s2(s.flows.portside.ms.median)} s${bareNote})`, met: ratio >= times,
  };
}

/** The same goal for the redeploys made without the kept connection (the first after its idle limit). */
function unkeptGoal(s: ScenarioResult, values: readonly number[], times: number): Goal {
  const median = stat([...values]).median;
  const ratio = s.flows.scp.ms.median / median;
  return {
    scenario: `${s.title} (npm run deploy-service, no kept connection: PORTSIDE_SSH_PERSIST=0)`, goal: `≥ ${times}× faster than the course's flow`,
    measured: `${ratio.toFixed(1)}× (${s2(s.flows.scp.ms.median)} s vs ${s2(median)} s)`, met: ratio >= times,
  };
}

function bytesGoal(s: ScenarioResult): Goal {
  const b = s.flows;
  const pct = b.scp.bytes.median ? (b.portside.bytes.median / b.scp.bytes.median) * 100 : 100;
  return { scenario: 'back end changed by one line', goal: 'bytes sent ≤ 2 % of the scp flow\'s', measured: `${pct.toFixed(2)} % (${kB(b.portside.bytes.median)} vs ${kB(b.scp.bytes.median)})`, met: pct <= 2 };
}

function frontEndGoal(s: ScenarioResult): Goal {
  const f = s.flows;
  return {
    scenario: 'front end changed by one word (npm run deploy-service)', goal: 'the build runs; Portside adds ≤ 0.7 s beyond it',
    measured: `build ${s2(f.portside.buildMs.median)} s, added ${s2(f.portside.addedMs.median)} s${f.bare ? ` (bare CLI adds ${s2(f.bare.addedMs.median)} s)` : ''}; the scp flow adds ${s2(f.scp.addedMs.median)} s`,
    met: f.portside.addedMs.median <= 700 && f.portside.buildMs.min > 0,
  };
}

function coldGoal(c: BenchResult['cold']): Goal {
  return {
    scenario: 'first (cold) deploy: a new service, nothing built yet', goal: "no slower than the course's first deploy",
    measured: `${s2(c.portside.ms)} s (build ${s2(c.portside.buildMs)} s) vs ${s2(c.scp.ms)} s (build ${s2(c.scp.buildMs)} s)`, met: c.portside.ms <= c.scp.ms,
  };
}

function dependencyGoal(s: ScenarioResult): Goal {
  return { scenario: 'a dependency added', goal: 'no slower than the scp flow', measured: `${s2(s.flows.portside.ms.median)} s vs ${s2(s.flows.scp.ms.median)} s`, met: s.flows.portside.ms.median <= s.flows.scp.ms.median };
}

function loadGoal(load: readonly LoadResult[], redeploys: number): Goal {
  const p = load.find((l) => l.flow === 'portside')!.summary;
  const s = load.find((l) => l.flow === 'scp')!.summary;
  const tlsNote = p.failedTls || s.failedTls ? ` (TLS handshakes refused by Caddy's front door, not by a deploy: Portside ${p.failedTls}, scp flow ${s.failedTls}; see "Caddy's front door")` : '';
  return {
    scenario: `${redeploys} redeploys under ≥ 50 req/s (GET + POST)`, goal: '0 failed, none slower than 2 s',
    measured: `Portside: ${p.failedHttp} failed, ${p.slow} slower than 2 s (max ${p.maxMs.toFixed(0)} ms) at ${p.rate.toFixed(0)}/s; scp flow: ${s.failedHttp} failed, longest gap ${s.longestGapMs.toFixed(0)} ms${tlsNote}`,
    met: p.failedHttp === 0 && p.slow === 0 && p.rate >= 50,
  };
}

function websocketGoal(websocket: BenchResult['websocket']): Goal {
  const w = websocket.find((x) => x.flow === 'portside')!;
  return { scenario: 'a WebSocket to another service during a redeploy', goal: 'stays open', measured: w.stayedOpen ? `open, ${w.messagesDuring + w.messagesAfter} messages received across it; Caddy not reloaded` : `closed: ${w.closed}`, met: w.stayedOpen };
}

function latencyGoal(l: NonNullable<BenchResult['latency']>): Goal {
  return {
    scenario: 'Caddy vs direct', goal: 'p50 overhead ≤ 1 ms',
    measured: `p50 ${l.direct.p50.toFixed(2)} → ${l.caddy.p50.toFixed(2)} ms (+${l.overheadP50.toFixed(2)}); p99 ${l.direct.p99.toFixed(2)} → ${l.caddy.p99.toFixed(2)} ms`, met: l.overheadP50 <= 1,
  };
}
