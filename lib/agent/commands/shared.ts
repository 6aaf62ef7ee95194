// What several commands need: where a service lives, the server's state sent to the CLI, the plan it
// answers with, and small file reads that tolerate a missing file.
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { AgentCommand, CurrentRelease, HeaderOf, PlanMessage, PlannedCommand, ResultOf, StateOf } from '../../protocol';
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

/** The current release of a layout, as the CLI plans from it. */
export function stateOf(l: rel.ReleaseLayout): CurrentRelease {
  const id = rel.currentId(l);
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
