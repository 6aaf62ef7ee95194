/**
 * A rehearsal of the EC2 boot on this machine (`npm run rehearse-boot`): the real UserData (as CloudFormation
 * would hand it to the instance) and the real assets/bootstrap.sh run as root in throwaway pid, mount and
 * network namespaces, over an overlay of / whose writes vanish with them. Only what AWS and the Ubuntu image
 * provide is stood in for (lib/rehearse/standins): IMDSv2, CloudFormation's metadata and wait condition handle,
 * the package repositories, systemd, cloud-init, ufw. Caddy, node, npm, pm2, useradd, visudo are this machine's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { BOOTSTRAP_METADATA_KEY, readDefaultHomePage, SEED_METADATA_KEY, seedFiles, seedMetadata } from '../bootstrap';
import { loadConfig } from '../config';
import { DEFAULT_STACK_NAME, PortsideStack } from '../stack';
import { bootSteps, BootStep, StandInFault } from './steps';
import { allPids, STAT, statFields } from '../agent/proc';

const STANDINS = join(__dirname, 'standins');
const REPO = join(__dirname, '..', '..');
const REGION = 'us-east-1';
/** A presigned URL of the shape CloudFormation hands out for a wait condition handle (~600 characters). */
const SIGNAL_URL = 'https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/'
  + 'arn%3Aaws%3Acloudformation%3Aus-east-1%3A111122223333%3Astack/Portside/0f6a2c10-5f0e-11ef-9d3a-0affd3b0c1a7/ServerBootImageHandle'
  + '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=86399'
  + '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request'
  + `&X-Amz-Signature=${'5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7'}`;

/** Options of {@link rehearseBoot}. */
export interface RehearsalOptions {
  /** A step name from {@link bootSteps} to make fail. @default - none: a clean boot */
  readonly failAt?: string;
  /** After a SUCCESS, run cfn-hup's oneshot service three times with a declared change after the first. @default true */
  readonly update?: boolean;
  /** How many of the bootstrap's metadata fetches fail first during that update. @default 0 */
  readonly updateFetchFailures?: number;
  /** Give up on the boot after this long. @default 90 */
  readonly bootTimeoutSeconds?: number;
}

/** One signal as CloudFormation counts it: the last PUT of each UniqueId. */
export interface RehearsalSignal {
  readonly status: string;
  readonly reason: string;
  readonly uniqueId: string;
  /** HTTP status the instance's :80 gave to a request from outside at the moment the signal arrived (null: none). */
  readonly caddyStatus: number | null;
  readonly bytes: number;
  readonly contentType: string | null;
}

/** What a rehearsal saw. */
export interface RehearsalReport {
  readonly failAt: string | null;
  readonly steps: Array<{ name: string; source: BootStep['source']; failable: boolean; how: string; reached: boolean }>;
  readonly signals: RehearsalSignal[];
  /** Every PUT to the wait condition handle (a failure inside the bootstrap is signalled by it and by the stub). */
  readonly signalPuts: number;
  /** Each PUT's status, UniqueId and reason, in the order they arrived. */
  readonly puts: Array<{ status: string; uniqueId: string; reason: string; caddyStatus: number | null }>;
  /** IMDSv2 requests: tokens issued, GETs, 401s; `withoutToken` is the status a GET without a token got. */
  readonly imds: { readonly tokens: number; readonly gets: number; readonly unauthorized: number; readonly withoutToken: number | null };
  readonly calls: Record<string, number>;
  readonly aptInstalls: string[][];
  readonly systemctl: string[][];
  readonly backoffSkippedSeconds: number;
  readonly cfnHup: Array<{ run: number; exit: number; seconds: number; activeAfter: boolean; hooksRun: Array<{ hook: string; exit: number }> }>;
  readonly caddyUpAfterUpdates: boolean | null;
  readonly declared: { readonly 'declared.json'?: string; readonly 'declared.Caddyfile'?: string };
  readonly expectedDeclared: { readonly 'declared.json': string; readonly 'declared.Caddyfile': string };
  readonly logTail: string[];
  readonly userDataExit: number | null;
  readonly bootExit: string | null;
  /** Processes alive in the rehearsal's pid namespace once the boot had ended (before teardown). */
  readonly runningAfterBoot: string[];
  /** Processes of this machine still in the rehearsal's pid namespace after it ended (must be 0). */
  readonly runningAfterTeardown: number;
  readonly durationMs: number;
}

/** Why a rehearsal cannot run here, or null when it can. */
export function rehearsalUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'it needs root (namespaces, an overlay mount, chroot)';
  for (const cmd of ['unshare', 'nsenter', 'chroot', 'ip', 'openssl', 'caddy', 'setpriv', 'bc']) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `${cmd} is not installed`;
  }
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 is not installed';
  if (!/\toverlay\n/.test(readFileSync('/proc/filesystems', 'utf8'))) return 'the kernel has no overlay filesystem';
  const probe = spawnSync('unshare', ['--mount', '--net', '--pid', '--fork', 'true']);
  if (probe.status !== 0) return `unshare cannot make namespaces here: ${probe.stderr.toString().trim()}`;
  return null;
}

let synthesized: { template: any; context: Record<string, unknown> } | undefined;

/** The stack's template, from cdk.json's context (once per process: a synth takes seconds). */
function template(): { template: any; context: Record<string, unknown> } {
  if (synthesized) return synthesized;
  const context = JSON.parse(readFileSync(join(REPO, 'cdk.json'), 'utf8')).context ?? {};
  // An outdir of its own, removed once the template is read: without one, the App makes a cdk.out*
  // folder in the temporary folder that nothing removes.
  const outdir = mkdtempSync(join(tmpdir(), 'portside-rehearse-synth-'));
  try {
    const app = new App({ context, outdir });
    new PortsideStack(app, DEFAULT_STACK_NAME, { config: loadConfig((k) => context[k]) });
    synthesized = { template: app.synth().getStackByName(DEFAULT_STACK_NAME).template, context };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
  return synthesized;
}

/** Resolve UserData's Fn::Base64/Fn::Join/Ref as CloudFormation would for this stack. */
function resolveUserData(userData: any, refs: Record<string, string>): string {
  const join = userData?.['Fn::Base64']?.['Fn::Join'];
  if (!Array.isArray(join)) throw new Error(`UserData is not Fn::Base64 of Fn::Join: ${JSON.stringify(userData).slice(0, 200)}`);
  return (join[1] as unknown[]).map((part) => {
    if (typeof part === 'string') return part;
    const ref = (part as { Ref?: string }).Ref;
    if (ref && ref in refs) return refs[ref];
    throw new Error(`UserData refers to ${JSON.stringify(part)}, which the rehearsal cannot resolve`);
  }).join(join[0]);
}

function readLines(file: string): any[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
const readOr = (file: string, fallback: string | null = null) => (existsSync(file) ? readFileSync(file, 'utf8') : fallback);

/** Write everything the namespace needs into dir/rec. */
function prepare(dir: string, options: RehearsalOptions, steps: BootStep[]): { expected: RehearsalReport['expectedDeclared'] } {
  const rec = join(dir, 'rec');
  mkdirSync(rec, { recursive: true });
  mkdirSync(join(dir, 'ovl'));
  cpSync(STANDINS, join(rec, 'standins'), { recursive: true });
  const step = options.failAt ? steps.find((s) => s.name === options.failAt) : undefined;

  const { template: tpl, context } = template();
  const [instanceId, instance] = Object.entries<any>(tpl.Resources).find(([, r]) => r.Type === 'AWS::EC2::Instance')!;
  writeUserData(rec, tpl, instance, step);
  const expected = writeStackMetadata(rec, instanceId, instance, context, step);
  writeFaultsAndConfig(rec, options, step);
  makeCertificate(rec);
  return { expected };
}

/** rec/user-data: the instance's UserData as CloudFormation resolves it, plus a step-runner failure if asked. */
function writeUserData(rec: string, tpl: any, instance: any, step: BootStep | undefined): void {
  const handleId = Object.keys(tpl.Resources).find((id) => tpl.Resources[id].Type === 'AWS::CloudFormation::WaitConditionHandle')!;
  let userData = resolveUserData(instance.Properties.UserData, { 'AWS::StackName': DEFAULT_STACK_NAME, 'AWS::Region': REGION, [handleId]: SIGNAL_URL });
  if (step?.injection.kind === 'step-runner') {
    // The rehearsal's own line, after the constant exports: production UserData never has it.
    userData = userData.replace(/((?:^export PORTSIDE_.*\n)+)/m, `$1export PORTSIDE_REHEARSAL_FAIL_AT='${step.name}'\n`);
  }
  writeFileSync(join(rec, 'user-data'), userData, { mode: 0o700 });
}

/**
 * rec/stack.json (the instance's metadata, as cfn-get-metadata serves it) and rec/stack-updated.json (after
 * a later `cdk deploy`); returns the declared files that update must leave on the server.
 */
function writeStackMetadata(
  rec: string, instanceId: string, instance: any, context: Record<string, unknown>, step: BootStep | undefined,
): RehearsalReport['expectedDeclared'] {
  const metadata = structuredClone(instance.Metadata);
  if (step?.injection.kind === 'invalid-caddyfile') metadata[SEED_METADATA_KEY].files.Caddyfile = ':80 {\n\tnot_a_directive\n}\n';
  const stack = (meta: unknown) => JSON.stringify({ stackName: DEFAULT_STACK_NAME, region: REGION, resources: { [instanceId]: { Metadata: meta } } });
  writeFileSync(join(rec, 'stack.json'), stack(metadata));
  // The update a later `cdk deploy` brings: one more service, rendered by the same functions the stack uses.
  const services = { ...(context.services as Record<string, number>) };
  services.rehearsed = Math.max(3000, ...Object.values(services)) + 1;
  const files = seedFiles(loadConfig((k) => (k === 'services' ? services : context[k])), readDefaultHomePage());
  writeFileSync(join(rec, 'stack-updated.json'), stack({ ...metadata, [SEED_METADATA_KEY]: seedMetadata(files) }));
  if (!metadata[BOOTSTRAP_METADATA_KEY]?.script) throw new Error(`the instance has no ${BOOTSTRAP_METADATA_KEY} metadata`);
  return { 'declared.json': files['registry.json'], 'declared.Caddyfile': files.Caddyfile };
}

/** The stand-ins' faults for the boot and for the update, and the rehearsal's own settings. */
function writeFaultsAndConfig(rec: string, options: RehearsalOptions, step: BootStep | undefined): void {
  const faults: StandInFault[] = step?.injection.kind === 'fault' ? [step.injection.fault] : [];
  writeFileSync(join(rec, 'faults.json'), JSON.stringify(faults));
  const updateFaults: StandInFault[] = options.updateFetchFailures
    ? [{ tool: 'cfn-get-metadata', match: '--key Portside$', times: options.updateFetchFailures, stderr: 'Throttling: Rate exceeded' }] : [];
  writeFileSync(join(rec, 'faults-update.json'), JSON.stringify(updateFaults));
  writeFileSync(join(rec, 'config.json'), JSON.stringify({
    update: options.update ?? true, bootTimeoutSeconds: options.bootTimeoutSeconds ?? 90, failAt: options.failAt ?? null,
  }));
}

/** A throwaway certificate authority for the AWS side's HTTPS names; trusted inside the overlay only. */
function makeCertificate(rec: string): void {
  const cert = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=portside rehearsal', '-keyout', join(rec, 'tls.key'), '-out', join(rec, 'tls.crt'),
    '-addext', 'subjectAltName=DNS:cloudformation-waitcondition-us-east-1.s3.amazonaws.com,DNS:deb.nodesource.com',
    '-addext', 'basicConstraints=critical,CA:TRUE'], { encoding: 'utf8' });
  if (cert.status !== 0) throw new Error(`openssl could not make the rehearsal's certificate: ${cert.stderr}`);
}

/**
 * Processes on this machine in the given pid namespace ("pid:[…]") that started before `beforeTicks`
 * (clock ticks since boot). Once a namespace is freed its inode number can be given to a new one (another
 * rehearsal, a test's own namespace): that one's processes started later, and are not this rehearsal's.
 */
function processesInNamespace(ns: string, beforeTicks: number): number {
  let n = 0;
  for (const pid of allPids()) {
    try {
      const start = Number(statFields(pid)?.[STAT.START_TIME]);
      if (readlinkSync(`/proc/${pid}/ns/pid`) === ns && start <= beforeTicks) n++;
    } catch { /* gone */ }
  }
  return n;
}

/** Now, in the clock ticks of /proc/<pid>/stat's start time (proc(5): USER_HZ, `getconf CLK_TCK`). */
function ticksSinceBoot(): number {
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return Math.ceil(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * hz);
}

/**
 * What is still in the rehearsal's pid namespace once its pid 1 has exited. The kernel kills every other
 * process in it then (pid_namespaces(7)), but on a busy machine they can take a moment to disappear from
 * /proc: wait up to 5 s for the count to reach 0, and report what is left after that.
 */
async function processesLeftInNamespace(ns: string): Promise<number> {
  const deadline = Date.now() + 5000;
  const ended = ticksSinceBoot();
  let n = processesInNamespace(ns, ended);
  while (n > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    n = processesInNamespace(ns, ended);
  }
  return n;
}

/** Rehearse one boot. Throws only when the rehearsal itself cannot run; a failed boot is in the report. */
export async function rehearseBoot(options: RehearsalOptions = {}): Promise<RehearsalReport> {
  const why = rehearsalUnavailable();
  if (why) throw new Error(`cannot rehearse the boot here: ${why}`);
  const steps = bootSteps();
  if (options.failAt !== undefined) {
    const step = steps.find((s) => s.name === options.failAt);
    if (!step || step.injection.kind === 'none') {
      const names = steps.filter((s) => s.injection.kind !== 'none').map((s) => JSON.stringify(s.name)).join(', ');
      throw new Error(`--fail-at ${JSON.stringify(options.failAt)} is not a step the rehearsal can fail; use one of: ${names}`);
    }
  }
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'portside-rehearse-'));
  try {
    const { expected } = prepare(dir, options, steps);
    const rec = join(dir, 'rec');
    const timeoutMs = ((options.bootTimeoutSeconds ?? 90) + 60) * 1000;
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      // --kill-child: if this process dies, the namespace's pid 1 does too, and with it every process in it.
      const child = spawn('unshare', ['--mount', '--net', '--pid', '--fork', '--kill-child', '/bin/bash', join(rec, 'standins', 'outer.sh'), dir], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (c: Buffer) => { err += c; });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (c) => { clearTimeout(timer); resolve({ code: c, stderr: err }); });
    });
    if (code !== 0 || !existsSync(join(rec, 'pidns'))) {
      throw new Error(`the rehearsal's namespace failed (exit ${code}): ${stderr.trim() || 'no output'}`);
    }
    const left = await processesLeftInNamespace(readFileSync(join(rec, 'pidns'), 'utf8').trim());
    return report(rec, options, steps, expected, Date.now() - started, left);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Read what the stand-ins recorded in rec into the report. */
function report(rec: string, options: RehearsalOptions, steps: BootStep[], expected: RehearsalReport['expectedDeclared'], durationMs: number, runningAfterTeardown: number): RehearsalReport {
  const puts = readLines(join(rec, 'signals.jsonl'));
  const { docs, signals } = readSignals(puts);
  const log = readOr(join(rec, 'out', 'portside-bootstrap.log'), '')!;
  const caddyAfter = readOr(join(rec, 'caddy-after-update'));
  const exitOf = readOr(join(rec, 'user-data.exit'));
  return {
    failAt: options.failAt ?? null,
    steps: stepsReached(steps, log, signals),
    signals,
    signalPuts: puts.length,
    puts: docs.map((d, i) => ({ status: d.Status, uniqueId: d.UniqueId, reason: d.Reason, caddyStatus: puts[i].caddyStatus ?? null })),
    imds: imdsCounts(rec),
    ...callSummary(rec),
    caddyUpAfterUpdates: caddyAfter === null ? null : caddyAfter.trim() === 'true',
    declared: readDeclared(join(rec, 'out', 'etc-portside')),
    expectedDeclared: expected,
    logTail: log.trimEnd().split('\n').slice(-20),
    userDataExit: exitOf === null ? null : Number(exitOf),
    bootExit: readOr(join(rec, 'boot.exit'))?.trim() ?? null,
    runningAfterBoot: processesListed(join(rec, 'ps-after-boot.txt')),
    runningAfterTeardown,
    durationMs,
  };
}

/** Each PUT's document, and the signals as CloudFormation counts them: the last PUT of each UniqueId. */
function readSignals(puts: any[]): { docs: any[]; signals: RehearsalSignal[] } {
  const byId = new Map<string, RehearsalSignal>();
  const docs: any[] = [];
  for (const p of puts) {
    let doc: any = {};
    try { doc = JSON.parse(p.body); } catch { /* recorded as not accepted */ }
    docs.push(doc);
    byId.set(doc.UniqueId ?? `(no UniqueId ${byId.size})`, {
      status: doc.Status, reason: doc.Reason, uniqueId: doc.UniqueId, caddyStatus: p.caddyStatus ?? null, bytes: p.bytes, contentType: p.contentType ?? null,
    });
  }
  return { docs, signals: [...byId.values()] };
}

/**
 * Which steps the boot reached: the bootstrap's from its log; the UserData stub's from the step a FAILURE
 * names (all of them once the bootstrap ran, or when nothing was signalled at all).
 */
function stepsReached(steps: BootStep[], log: string, signals: RehearsalSignal[]): RehearsalReport['steps'] {
  const reachedBootstrap = new Set([...log.matchAll(/portside-bootstrap: step: (\w+)/g)].map((m) => m[1]));
  const failedStub = signals.map((s) => /^Portside boot failed at step "([^"]+)"/.exec(s.reason ?? '')?.[1]).find(Boolean);
  const stubNames = steps.filter((s) => s.source === 'user-data').map((s) => s.name);
  const stubReached = (name: string) => reachedBootstrap.size > 0 || (failedStub !== undefined && stubNames.indexOf(name) <= stubNames.indexOf(failedStub))
    || (failedStub === undefined && signals.length === 0);
  return steps.map((s) => ({
    name: s.name, source: s.source, failable: s.injection.kind !== 'none', how: s.injection.how,
    reached: s.source === 'bootstrap' ? reachedBootstrap.has(s.name) : stubReached(s.name),
  }));
}

function imdsCounts(rec: string): RehearsalReport['imds'] {
  const imds = readLines(join(rec, 'imds.jsonl'));
  const withoutToken = readOr(join(rec, 'imds-without-token'));
  return {
    tokens: imds.filter((r) => r.method === 'PUT' && r.status === 200).length,
    gets: imds.filter((r) => r.method === 'GET').length,
    unauthorized: imds.filter((r) => r.status === 401).length,
    withoutToken: withoutToken === null ? null : Number(withoutToken),
  };
}

/** What the stand-in tools were asked to do (calls.jsonl) and cfn-hup's runs. */
function callSummary(rec: string): Pick<RehearsalReport, 'calls' | 'aptInstalls' | 'systemctl' | 'backoffSkippedSeconds' | 'cfnHup'> {
  const calls = readLines(join(rec, 'calls.jsonl'));
  const hupCalls = calls.filter((c) => c.tool === 'cfn-hup');
  return {
    calls: calls.reduce<Record<string, number>>((a, c) => ({ ...a, [c.tool]: (a[c.tool] ?? 0) + 1 }), {}),
    aptInstalls: calls.filter((c) => c.tool === 'apt-get' && c.verb === 'install').map((c) => c.packages),
    systemctl: calls.filter((c) => c.tool === 'systemctl' && !String(c.args[0]).startsWith('(')).map((c) => c.args),
    backoffSkippedSeconds: calls.filter((c) => c.tool === 'sleep').reduce((a, c) => a + c.skipped, 0),
    cfnHup: readLines(join(rec, 'cfn-hup.jsonl')).map((r, i) => ({ ...r, hooksRun: hupCalls[i]?.hooksRun ?? [] })),
  };
}

/** The declared files the boot and the update left in /etc/portside. */
function readDeclared(etc: string): RehearsalReport['declared'] {
  const declared: Record<string, string> = {};
  for (const f of ['declared.json', 'declared.Caddyfile']) if (existsSync(join(etc, f))) declared[f] = readFileSync(join(etc, f), 'utf8');
  return declared;
}

/** A `ps` listing's lines, without the ps itself and the rehearsal's own inner script. */
function processesListed(file: string): string[] {
  return (readOr(file, '') ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !/^\d+ (ps -eo|\/bin\/bash \/rehearsal\/standins\/inner\.sh)/.test(l));
}
