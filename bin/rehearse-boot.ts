#!/usr/bin/env node
// `npm run rehearse-boot -- [--fail-at STEP] [--update-fetch-failures N] [--json] [--list-steps]`:
// the EC2 boot, rehearsed on this machine (lib/rehearse). Needs root.
process.env.CDK_VALIDATION ??= 'false';
process.env.JSII_DEPRECATED ??= 'quiet';
import { bootSteps, rehearseBoot, RehearsalReport } from '../lib/rehearse';

const USAGE = `usage: npm run rehearse-boot -- [--fail-at STEP] [--update-fetch-failures N] [--json] [--list-steps]
  e.g. npm run rehearse-boot -- --fail-at install_packages
       npm run rehearse-boot -- --json --update-fetch-failures 1`;

function fail(message: string): never {
  console.error(`rehearse-boot: ${message}\n${USAGE}`);
  process.exit(2);
}

function parse(argv: string[]) {
  const o: { failAt?: string; json: boolean; list: boolean; updateFetchFailures?: number } = { json: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--list-steps') o.list = true;
    else if (a === '--fail-at') o.failAt = argv[++i] ?? fail('--fail-at needs a step name (see --list-steps)');
    else if (a === '--update-fetch-failures') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0 || n > 6) fail(`--update-fetch-failures must be a whole number from 0 to 6 (the bootstrap tries 7 times), got ${JSON.stringify(argv[i])}`);
      o.updateFetchFailures = n;
    } else if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0); }
    else fail(`unknown argument ${JSON.stringify(a)}`);
  }
  return o;
}

function human(r: RehearsalReport): string {
  const lines = [`boot rehearsal${r.failAt ? ` failing at ${r.failAt}` : ''} (${(r.durationMs / 1000).toFixed(1)} s)`, 'steps:'];
  for (const s of r.steps) lines.push(`  ${s.reached ? '✓' : '·'} ${s.name} (${s.source})`);
  lines.push(`signals (${r.signals.length} as CloudFormation counts them, by UniqueId; every PUT:)`);
  const head = (reason: string) => reason.replace(/; last lines of .*$/s, '');
  for (const p of r.puts) lines.push(`  ${p.status} ${p.uniqueId}: ${head(p.reason)}${p.caddyStatus ? ` [:80 answered ${p.caddyStatus}]` : ''}`);
  if (r.puts.length === 0) lines.push('  none: CloudFormation would wait for the timeout');
  if (r.failAt) lines.push('log, last lines:', ...r.logTail.slice(-5).map((l) => `  ${l}`));
  lines.push(`signal PUTs: ${r.signalPuts}; backoff skipped: ${r.backoffSkippedSeconds} s; IMDS tokens ${r.imds.tokens}, GETs ${r.imds.gets}`);
  for (const h of r.cfnHup) lines.push(`cfn-hup run ${h.run}: exit ${h.exit} in ${h.seconds.toFixed(2)} s, hooks run: ${h.hooksRun.map((x) => `${x.hook} (exit ${x.exit})`).join(', ') || 'none'}`);
  lines.push(`left running after the boot: ${r.runningAfterBoot.length}; after teardown: ${r.runningAfterTeardown}`);
  return lines.join('\n');
}

async function main() {
  const o = parse(process.argv.slice(2));
  if (o.list) {
    for (const s of bootSteps()) console.log(`${s.injection.kind === 'none' ? '-' : '*'} ${s.name}  (${s.source}: ${s.injection.how})`);
    return;
  }
  try {
    const r = await rehearseBoot({ failAt: o.failAt, updateFetchFailures: o.updateFetchFailures });
    console.log(o.json ? JSON.stringify(r, null, 2) : human(r));
    const ok = o.failAt ? r.signals.some((s) => s.status === 'FAILURE') : r.signals.length === 1 && r.signals[0].status === 'SUCCESS';
    process.exitCode = ok ? 0 : 1;
  } catch (e) {
    console.error(`rehearse-boot: ${(e as Error).message}`);
    process.exitCode = 2;
  }
}

void main();
