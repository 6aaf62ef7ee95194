// What several commands need: where a service lives, the server's state sent to the CLI, the plan it
// answers with, and small file reads that tolerate a missing file.
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { AgentCommand, CurrentRelease, DeployHeader, HeaderOf, PlanMessage, PlannedCommand, ResultOf, StateOf } from '../../protocol';
import { onServer, serviceDir, SERVICES_DIR } from '../../remote/layout';
import * as routes from '../routes';
import { AgentError, Input, send } from '../protocol-io';
import * as rel from '../releases';

/** One command of the agent: whether it changes the server (then it runs under the lock), and what it does. */
export interface Command<C extends AgentCommand> {
  readonly mutates: boolean;
  run(header: HeaderOf<C>, input: Input): Promise<ResultOf<C>>;
}

export const HOME = homedir();
export const SERVICES = onServer(HOME, SERVICES_DIR);

/** A service's folder and its releases' layout. */
export function serviceAt(name: string): { name: string; base: string; l: rel.ReleaseLayout } {
  const base = onServer(HOME, serviceDir(name));
  return { name, base, l: rel.layout(base) };
}

/**
 * The current release of a layout, as the CLI plans from it. When the CLI sent the digest of its files
 * (`expected`) and the release's summary records the same, the files are left out: they are the CLI's
 * own, and a 5,000-file manifest costs ~30 ms to read, send and parse. Else the manifest is read.
 */
export function stateOf(l: rel.ReleaseLayout, expected?: string | null): CurrentRelease {
  const id = rel.currentId(l);
  const summary = id && expected ? rel.readSummary(l, id) : null;
  if (summary && summary.digest === expected) {
    const { digest, manifestSha256: _bytes, ...meta } = summary;
    return { id, files: null, meta, digest };
  }
  const manifest = id ? rel.readManifest(l, id) : null;
  if (!manifest) return { id, files: null, meta: null };
  const { files, ...meta } = manifest;
  return { id, files, meta };
}

/** The registry's text and the live Caddyfile (null when it cannot be read: the CLI reports drift). */
export function registryState(): { registry: string; caddyfile: string | null } {
  const registry = routes.readRegistryText();
  return { registry, caddyfile: readOr(registryPaths(registry).caddyfile) };
}

/** The paths a registry's text records (the Caddyfile, the static site). */
export function registryPaths(registryText: string): { caddyfile: string; www: string } {
  return (JSON.parse(registryText) as { paths: { caddyfile: string; www: string } }).paths;
}

/** Send the server's state and wait for the CLI's plan; null means "stop here, change nothing". */
export async function exchange<C extends PlannedCommand>(_command: C, input: Input, state: StateOf<C>): Promise<PlanMessage<C> | null> {
  send({ type: 'state', ...state } as Parameters<typeof send>[0]);
  const plan = await input.next();
  if (plan?.type === 'plan') return plan as unknown as PlanMessage<C>;
  if (plan?.type === 'abort') return null;
  throw new AgentError('the connection to the CLI ended before it sent its plan; nothing was changed');
}

/**
 * The digest the CLI sends right after a deploy header that says `digestFollows` (null: none). A line
 * that is not that message is refused: the conversation's order is part of the protocol.
 */
export async function expectedDigest(header: DeployHeader, input: Input): Promise<string | null> {
  if (!header.digestFollows) return null;
  const m = await input.next();
  if (m?.type === 'digest' && (m.digest === null || (typeof m.digest === 'string' && /^[0-9a-f]{64}$/.test(m.digest)))) return m.digest;
  if (m === null) throw new AgentError('the connection to the CLI ended before it sent its plan; nothing was changed');
  throw new AgentError(`expected the CLI's digest message after the header, got ${JSON.stringify(m).slice(0, 200)}; nothing was changed`, 'The CLI and the agent disagree on the protocol: deploy again with the same Portside version.');
}

export function readOr(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

export function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The uploaded bytes nobody will read (a plan without an upload): let them flow away. */
export function drain(input: Input): void {
  input.rest().resume();
}

export const now = (): string => new Date().toISOString();
