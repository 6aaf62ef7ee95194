import { readBootstrapScript, readUserDataStub } from '../bootstrap';

/** A fault one stand-in injects: it fails while its joined arguments match `match` (a regex), `times` times (-1: always). */
export interface StandInFault {
  readonly tool: string;
  readonly match: string;
  readonly times?: number;
  readonly exit?: number;
  readonly stderr?: string;
}

/** How `--fail-at` makes a step fail: a stand-in's fault, a declared file the server refuses, or the step runner. */
export type Injection =
  | { readonly kind: 'fault'; readonly fault: StandInFault; readonly how: string }
  | { readonly kind: 'invalid-caddyfile'; readonly how: string }
  | { readonly kind: 'step-runner'; readonly how: string }
  | { readonly kind: 'none'; readonly how: string };

/** One named step of the EC2 boot, in the order it runs. */
export interface BootStep {
  readonly name: string;
  /** The UserData stub (assets/user-data.sh, its `STEP=` names) or the bootstrap (assets/bootstrap.sh, `step NAME`). */
  readonly source: 'user-data' | 'bootstrap';
  readonly injection: Injection;
}

const apt = (match: string, stderr: string): StandInFault => ({ tool: 'apt-get', match, stderr, exit: 100 });

/** Failures as they happen on a real first boot, by step name; steps not here fall back to the step runner. */
const INJECTIONS: Record<string, Injection> = {
  'start outside cloud-init': { kind: 'fault', how: 'systemd-run cannot reach systemd', fault: { tool: 'systemd-run', match: '', stderr: 'Failed to connect to bus: No such file or directory' } },
  'wait for cloud-init': { kind: 'none', how: 'cannot fail the boot: the stub goes on when cloud-init reports a problem' },
  'apt-get update': { kind: 'fault', how: "apt's lists lock stays held (every retry)", fault: apt('update$', 'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 812 (apt-get)') },
  'install python3-venv': { kind: 'fault', how: 'apt cannot find python3-venv', fault: apt('install python3-venv curl$', 'E: Unable to locate package python3-venv') },
  'install the CloudFormation helpers': { kind: 'fault', how: 'pip cannot download aws-cfn-bootstrap from S3', fault: { tool: 'pip', match: 'aws-cfn-bootstrap', stderr: "ERROR: Could not install packages due to an OSError: HTTPSConnectionPool(host='s3.amazonaws.com', port=443): Max retries exceeded" } },
  'fetch the bootstrap': { kind: 'fault', how: 'cfn-get-metadata is refused the PortsideBootstrap key', fault: { tool: 'cfn-get-metadata', match: '--key PortsideBootstrap$', stderr: 'AccessDenied: not authorized to perform: cloudformation:DescribeStackResource' } },
  'run the bootstrap': { kind: 'none', how: "its steps are listed one by one (the bootstrap's own)" },
  install_cfn_helpers: { kind: 'fault', how: 'apt cannot install jq', fault: apt('install python3-venv curl gnupg', 'E: Unable to locate package jq') },
  fetch_declared: { kind: 'fault', how: 'cfn-get-metadata is refused the Portside key', fault: { tool: 'cfn-get-metadata', match: '--key Portside$', stderr: 'AccessDenied: not authorized to perform: cloudformation:DescribeStackResource' } },
  install_packages: { kind: 'fault', how: 'apt cannot install caddy and nodejs', fault: apt('install caddy nodejs', 'E: Unable to locate package caddy') },
  configure_firewall: { kind: 'fault', how: 'ufw cannot enable the firewall', fault: { tool: 'ufw', match: '--force enable', stderr: 'ERROR: problem running ufw-init' } },
  lay_out_server: { kind: 'invalid-caddyfile', how: 'the declared Caddyfile is one Caddy refuses' },
  start_caddy_systemd: { kind: 'fault', how: 'systemd cannot start caddy.service', fault: { tool: 'systemctl', match: '^start caddy', stderr: 'Job for caddy.service failed because the control process exited with error code.' } },
  install_cfn_hup: { kind: 'fault', how: 'systemd cannot enable cfn-hup.timer', fault: { tool: 'systemctl', match: 'enable --now cfn-hup.timer', stderr: 'Failed to enable unit: Unit file cfn-hup.timer is masked.' } },
};

/**
 * The single server's boot steps, read from the scripts themselves (so a new step is rehearsed without a
 * change here): the stub's `STEP="…"` names, then the `step NAME` lines at main_ec2's top level (two
 * spaces in). A step nested in an `if` runs on a fleet server only (PORTSIDE_SIGNAL_RESOURCE: its Auto
 * Scaling group's signal, the converge hook); the rehearsal boots a single server, which never runs them.
 */
export function bootSteps(stub = readUserDataStub(), bootstrap = readBootstrapScript()): BootStep[] {
  const stubSteps = [...stub.matchAll(/^\s*STEP="([^"]+)"/gm)].map((m) => m[1]);
  const main = /^main_ec2\(\) \{\n([\s\S]*?)\n\}/m.exec(bootstrap)?.[1];
  if (!main) throw new Error('assets/bootstrap.sh has no main_ec2() { … } block: the rehearsal reads its steps from there');
  const bootstrapSteps = [...main.matchAll(TOP_LEVEL_STEP)].map((m) => m[1]);
  const fallback: Injection = { kind: 'step-runner', how: "the bootstrap's step runner fails it (PORTSIDE_REHEARSAL_FAIL_AT)" };
  return [
    ...stubSteps.map((name) => ({ name, source: 'user-data' as const, injection: INJECTIONS[name] ?? { kind: 'none' as const, how: 'no stand-in fails it' } })),
    ...bootstrapSteps.map((name) => ({ name, source: 'bootstrap' as const, injection: INJECTIONS[name] ?? fallback })),
  ];
}

/** A `step NAME` line at main_ec2's top level; deeper ones are conditional (a fleet server's). */
export const TOP_LEVEL_STEP = /^ {2}step (\w+)/gm;

/** The steps `--fail-at` accepts. */
export function failableSteps(steps = bootSteps()): BootStep[] {
  return steps.filter((s) => s.injection.kind !== 'none');
}
