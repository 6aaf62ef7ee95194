/**
 * Every message that crosses the wire between the CLI (lib/deploy/agent-client.ts) and the agent on
 * the server (lib/agent), in both directions. Both sides import these types, so a field added,
 * renamed or dropped on one side fails `tsc` on the other. Types only: nothing here runs.
 *
 * A conversation (`node agent.js <command>` over SSH, JSON lines both ways, see framing.ts):
 *   CLI → agent   header                       (the first line; its shape depends on the command)
 *   agent → CLI   agent                        (its pid, for Ctrl-C)
 *   agent → CLI   state                        (commands with a plan: what the server has now)
 *   CLI → agent   plan | abort                 (a plan with `upload: true` is followed by raw tar bytes)
 *   agent → CLI   step, note, interrupt …      (progress, as it happens)
 *   agent → CLI   result                       (always last)
 */
import type { Registry } from '../registry/registry';
import type { AgentCommand, StepName } from './steps';

export type { AgentCommand, StepName } from './steps';

/** A release's file as the manifest lists it: path, sha256, size, mode. */
export interface WireFile {
  readonly p: string;
  readonly h: string;
  readonly s: number;
  readonly m: number;
}

/** How the server starts a release: a node entry file (pm2 cluster mode) or an npm script (fork mode). */
export interface StartSpec {
  readonly script?: string;
  readonly npmScript?: string;
}

/** The registry and Caddyfile a change installs together (rendered by the CLI). */
export interface Routes {
  readonly registry: string;
  readonly caddyfile: string;
}

/** What `.portside-release.json` in a release folder records. */
export interface ReleaseManifest {
  readonly id: string;
  readonly files: readonly WireFile[];
  readonly start?: StartSpec;
  readonly healthPath?: string;
  readonly port?: number;
  readonly by: string;
  readonly at: string;
}

// ------------------------------------------------------------------ headers (CLI → agent, first line)

export interface BaseHeader {
  /** Who asks (user@host): recorded in the lock and the release history. */
  readonly who: string;
  /** What the lock says is running, e.g. `deploy-service simon`. @default - the command's name */
  readonly what?: string;
  /** Change nothing: no lock is taken (a dry run, `status`). @default false */
  readonly readOnly?: boolean;
  /** The registry to fall back on when a lost one is rebuilt (`portside local up`'s repair). @default - none */
  readonly declared?: Registry;
}
export interface ServiceHeader extends BaseHeader {
  readonly service: string;
}
export interface DeployHeader extends ServiceHeader {
  /**
   * A `digest` message follows the header, and the agent waits for it before sending its state: when
   * the current release's files have that digest, the state leaves them out (see CurrentRelease.digest).
   * @default false
   */
  readonly digestFollows?: boolean;
}
export interface RollbackHeader extends ServiceHeader {
  /** The release to go back to. @default - the newest other release the history knows */
  readonly to?: string;
  /** Only say which release it would be. @default false */
  readonly dryRun?: boolean;
}

// ------------------------------------------------------------------ states (agent → CLI)

/** A kind of release's current state: its id, its manifest's files and the rest of its manifest. */
export interface CurrentRelease {
  readonly id: string | null;
  /** The manifest's files; null when there is no readable manifest, or when they are left out (see digest). */
  readonly files: readonly WireFile[] | null;
  readonly meta: Omit<ReleaseManifest, 'files'> | null;
  /**
   * Set (with `files` null) when the release's files have exactly the digest the CLI sent
   * (manifestDigest): they are the CLI's own files, so they are not sent back. @default - files are sent
   */
  readonly digest?: string;
}

/** What `.portside-release-summary.json` beside a release's manifest records: the manifest without its files, and their digest. */
export interface ReleaseSummary extends Omit<ReleaseManifest, 'files'> {
  /** manifestDigest of the manifest's files. */
  readonly digest: string;
  /** SHA-256 of the manifest file's bytes: a summary is trusted only beside the manifest it was written with. */
  readonly manifestSha256: string;
}
interface RoutesState {
  /** The registry's text as it is on disk. */
  readonly registry: string;
  /** The live Caddyfile, or null when it cannot be read (drift, reported by the CLI). */
  readonly caddyfile: string | null;
}
export interface ReleaseState extends RoutesState {
  readonly current: CurrentRelease;
}
/** A pm2 process as the CLI needs it. */
export interface ProcessState {
  readonly status: string;
  readonly port: number | null;
}
export interface RemoveState extends RoutesState {
  readonly process: ProcessState | null;
}
export interface SyncState extends RoutesState {
  /** `<caddy dir>/declared.json` as written by `cdk deploy`, or null when there is none. */
  readonly declared: string | null;
  readonly processes: Readonly<Record<string, ProcessState>>;
}

// ------------------------------------------------------------------ plans (CLI → agent)

export interface DeployPlan {
  /** The new release's id (the current one's when `unchanged`). */
  readonly id: string;
  readonly port: number;
  readonly start: StartSpec;
  readonly healthPath: string;
  /** The release's whole manifest (empty when `sameFilesAsCurrent`). */
  readonly files: readonly WireFile[];
  /** Paths of the current release kept as they are (hard-linked); the upload brings the rest (empty when `sameFilesAsCurrent`). */
  readonly keep: readonly string[];
  /**
   * The release's files are exactly the current release's (the plan is `unchanged`): `files` and `keep`
   * are left empty (~1 MB of JSON for a 5,000-file app, for a deploy that usually changes nothing), and
   * the agent takes both from the current release's manifest if it has to start a copy of it. @default false
   */
  readonly sameFilesAsCurrent?: boolean;
  readonly lockfileChanged: boolean;
  /** The env file's text, or null to keep the current release's. */
  readonly env: string | null;
  /** New routes, or null when they stay. */
  readonly routes: Routes | null;
  /** The URL checked through Caddy after the switch. */
  readonly verifyUrl: string;
  /** Same files and settings as the current release. */
  readonly unchanged: boolean;
  /** Only built front-end files changed: no probe. */
  readonly staticOnly: boolean;
  /** How long the new release may take to answer its health check. */
  readonly probeTimeoutMs: number;
}
export interface DeployFilesPlan {
  readonly id: string;
  readonly unchanged: boolean;
  readonly keep: readonly string[];
  readonly files: readonly WireFile[];
  readonly verifyUrl: string;
}
export interface RemovePlan {
  readonly routes: Routes | null;
  readonly purge: boolean;
}
export interface SyncPlan {
  readonly routes: Routes | null;
}

// ------------------------------------------------------------------ results (agent → CLI, last)

export interface DeployResult {
  /** The CLI sent no plan (a dry run): nothing was changed. */
  readonly aborted?: true;
  /** Nothing to do: same files, port and routes, and the process online. */
  readonly unchanged?: true;
  readonly id?: string | null;
  readonly port?: number;
  readonly previous?: string | null;
}
export interface DeployFilesResult {
  readonly aborted?: true;
  readonly unchanged?: true;
  readonly id?: string | null;
  readonly previous?: string | null;
}
export interface RollbackResult {
  readonly id: string;
  readonly previous: string;
  readonly port: number;
  readonly dryRun?: true;
  /** The other releases on the server, newest first. */
  readonly releases: readonly string[];
}
export interface RemoveResult {
  readonly aborted?: true;
  readonly removed?: string;
  readonly purged?: boolean;
}
export interface SyncResult {
  readonly aborted?: true;
  readonly unchanged?: true;
  readonly synced?: true;
}
/** One service as `status` reports it. */
export interface ServiceStatus {
  readonly name: string;
  readonly port: number | null;
  /** In the registry (else only a folder or a process is left). */
  readonly registered: boolean;
  readonly release: string | null;
  readonly deployedAt: string | null;
  /** pm2's status, or 'none'. */
  readonly process: string;
  readonly processPort: number | null;
  readonly restarts: number | null;
  readonly healthPath: string;
  /** The health check's status code or error code; null when the service has no port. */
  readonly health: number | string | null;
}
export interface StatusResult {
  /** The registry as parsed JSON (the CLI validates it). */
  readonly registry: unknown;
  readonly services: readonly ServiceStatus[];
  readonly site: { readonly release: string | null };
}
/**
 * `converge` (a fleet server, at boot or in a rollout's catch-up): where the release store is, and
 * where env files come from. Every field defaults to what the server's environment says
 * (/etc/default/portside on EC2: PORTSIDE_STORE_BUCKET, PORTSIDE_PARAMETER_PREFIX, AWS_REGION).
 */
export interface ConvergeHeader extends BaseHeader {
  /** The release store. @default - PORTSIDE_STORE_BUCKET / PORTSIDE_STORE_ENDPOINT / AWS_REGION, the SDK's credential chain */
  readonly store?: {
    readonly bucket: string;
    readonly endpoint?: string;
    readonly region?: string;
    readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  };
  /** SSM prefix of the env files (`/portside/<stack>`). @default - PORTSIDE_PARAMETER_PREFIX; none: no env file is read from SSM */
  readonly parameterPrefix?: string;
  /** Env files sent by the CLI, by service (the local fleet's stand-in for SSM). @default - none */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * This converge is the server's boot (the hook's): it removes the booting marker (BOOTING_MARKER_FILE)
   * before each last read of the manifest and puts it back when that read finds the manifest moved.
   * @default false
   */
  readonly boot?: boolean;
}
/** One service after `converge`: kept (already on the manifest's release and healthy) or installed. */
export interface ConvergedService {
  readonly name: string;
  readonly release: string;
  readonly action: 'kept' | 'installed';
}
export interface ConvergeResult {
  readonly services: readonly ConvergedService[];
  /** The manifest's updatedAt, or null when the store has no manifest yet (nothing to run). */
  readonly manifest: string | null;
}
export interface RepairResult {
  /** The registry's state before the repair. */
  readonly registry: 'ok' | 'missing' | 'corrupt';
}

/** For each command: its header, state, plan and result. `never`: the command has no such message. */
export interface Conversations {
  deploy: { header: DeployHeader; state: ReleaseState; plan: DeployPlan; result: DeployResult };
  'deploy-files': { header: BaseHeader; state: ReleaseState; plan: DeployFilesPlan; result: DeployFilesResult };
  rollback: { header: RollbackHeader; state: never; plan: never; result: RollbackResult };
  remove: { header: ServiceHeader; state: RemoveState; plan: RemovePlan; result: RemoveResult };
  sync: { header: BaseHeader; state: SyncState; plan: SyncPlan; result: SyncResult };
  status: { header: BaseHeader; state: never; plan: never; result: StatusResult };
  repair: { header: BaseHeader; state: never; plan: never; result: RepairResult };
  converge: { header: ConvergeHeader; state: never; plan: never; result: ConvergeResult };
}
export type HeaderOf<C extends AgentCommand> = Conversations[C]['header'];
export type StateOf<C extends AgentCommand> = Conversations[C]['state'];
export type PlanOf<C extends AgentCommand> = Conversations[C]['plan'];
export type ResultOf<C extends AgentCommand> = Conversations[C]['result'];
/** The commands that send a state and wait for a plan. */
export type PlannedCommand = { [C in AgentCommand]: [StateOf<C>] extends [never] ? never : C }[AgentCommand];

// ------------------------------------------------------------------ the messages themselves

/** CLI → agent after the header: the plan (then raw tar bytes when `upload`), or stop here. */
export type ClientMessage<C extends AgentCommand = AgentCommand> = PlanMessage<C> | { readonly type: 'abort' } | DigestMessage;
/** CLI → agent right after a deploy header that says `digestFollows`: the new release's manifestDigest, or null when it has none (a failed build). */
export interface DigestMessage {
  readonly type: 'digest';
  readonly digest: string | null;
}
/**
 * The first line a standby agent reads (one started ahead of time by the kept connection, lib/ssh/keeper,
 * with STANDBY_ARG instead of a command): which command to run. The header follows as usual.
 */
export type StandbyRequest = { readonly type: 'run'; readonly command: AgentCommand };
/** The argument that starts the agent as a standby: Node started and the bundle loaded, waiting for a StandbyRequest. */
export const STANDBY_ARG = '--standby';
/** The plan as it travels: `upload` says whether raw tar bytes follow the line. */
export type PlanMessage<C extends AgentCommand = AgentCommand> = { readonly type: 'plan'; readonly upload: boolean } & PlanOf<C>;

/** What a failed command reports. */
export interface Failure {
  readonly error: string;
  /** More lines for the user (a log tail). */
  readonly detail?: string;
  /** A stable code tests and the CLI can tell apart (LOCKED, CRASHED, INTERRUPTED…). */
  readonly code: string;
  /** The step that was running. */
  readonly step?: StepName;
}

/** agent → CLI. */
export type AgentMessage<C extends AgentCommand = AgentCommand> =
  | { readonly type: 'agent'; readonly pid: number }
  | ({ readonly type: 'state' } & StateOf<C>)
  | { readonly type: 'step'; readonly name: StepName; readonly status: 'start' }
  | { readonly type: 'step'; readonly name: StepName; readonly status: 'done'; readonly ms: number }
  | { readonly type: 'note'; readonly text: string }
  /** The answer to Ctrl-C: whether the agent stops before committing, and where it is. */
  | { readonly type: 'interrupt'; readonly stopping: boolean; readonly step: StepName | null }
  | ({ readonly type: 'result'; readonly ok: true } & ResultOf<C>)
  | ({ readonly type: 'result'; readonly ok: false } & Failure);

export type StepMessage = Extract<AgentMessage, { type: 'step' }>;
export type ResultMessage<C extends AgentCommand = AgentCommand> = Extract<AgentMessage<C>, { type: 'result' }>;
