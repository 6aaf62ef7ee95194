// `deploy-files`: the static site's new release, switched by one atomic link.
import { chmodSync, rmSync } from 'node:fs';
import { BaseHeader, DeployFilesResult } from '../../protocol';
import { KEEP_RELEASES } from '../../remote/layout';
import { Input, note, step } from '../protocol-io';
import * as rel from '../releases';
import { verifyThroughCaddy } from './live-checks';
import { drain, exchange, now, registryPaths, registryState, stateOf } from './shared';

export async function deployFiles(header: BaseHeader, input: Input): Promise<DeployFilesResult> {
  const state = registryState();
  const l = rel.layout(registryPaths(state.registry).www);
  const before = stateOf(l);
  const plan = await exchange('deploy-files', input, { ...state, current: before });
  if (!plan) return { aborted: true };
  if (plan.unchanged) {
    note('nothing changed in the site: nothing sent');
    return { unchanged: true, id: before.id };
  }
  try {
    const dir = await step('upload', () => rel.stage(l, plan.id, before.id, plan.keep, plan.upload ? input.rest() : null, true));
    if (!plan.upload) drain(input);
    rel.writeManifest(dir, { id: plan.id, files: plan.files, by: header.who, at: now() });
    chmodSync(dir, 0o755);
    await step('switch', async () => rel.switchTo(l, plan.id));
    await step('verify', () => verifyThroughCaddy(plan.verifyUrl).catch(async (e) => {
      if (before.id) rel.switchTo(l, before.id);
      throw e;
    }));
  } catch (e) {
    if (rel.currentId(l) !== plan.id) rmSync(l.dir(plan.id), { recursive: true, force: true });
    throw e;
  }
  rel.appendHistory(l, { id: plan.id, at: now(), by: header.who });
  rel.prune(l, KEEP_RELEASES);
  return { id: plan.id, previous: before.id };
}
